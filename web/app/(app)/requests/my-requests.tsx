"use client";

import Link from "next/link";
import { PriorityBadge, StatusBadge } from "@/components/ticket-badges";
import { ButtonLink, EmptyState, ListStates, LoadMore, PageHeader } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import { useAuth } from "@/lib/auth";
import { useI18n } from "@/lib/i18n";
import { usePaged } from "@/lib/paged";

export function MyRequests() {
  const { t, formatRelative } = useI18n();
  const { user } = useAuth();
  const list = usePaged(`my-requests-${user.id}`, (cursor: string | null) =>
    unwrap(api().GET("/api/v1/tickets", { params: { query: { sort: "-updated", limit: 50, cursor } } })),
  );

  return (
    <div className="mx-auto max-w-4xl">
      <PageHeader title={t("requests.title")} actions={<ButtonLink href="/requests/new">{t("requests.new")}</ButtonLink>} />
      <ListStates
        items={list.items}
        error={list.error}
        onRetry={() => void list.refetch()}
        empty={
          <EmptyState
            title={t("requests.empty")}
            body={t("requests.emptyBody")}
            action={<ButtonLink href="/requests/new">{t("requests.new")}</ButtonLink>}
          />
        }
      >
        {(items) => (
          <ul className="divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm" data-testid="request-list">
            {items.map((ticket) => (
              <li key={ticket.id}>
                <Link href={`/requests/${ticket.id}`} className="flex items-center gap-3 px-4 py-3 hover:bg-slate-50">
                  <span className="w-16 shrink-0 text-xs text-slate-400">#{ticket.number}</span>
                  <span className="min-w-0 flex-1">
                    <span className="block truncate font-medium text-slate-900">{ticket.subject}</span>
                    <span className="text-xs text-slate-500">{t("requests.updated", { time: formatRelative(ticket.updated_at) })}</span>
                  </span>
                  <PriorityBadge priority={ticket.priority} />
                  <StatusBadge status={ticket.status} />
                </Link>
              </li>
            ))}
          </ul>
        )}
      </ListStates>
      <LoadMore list={list} />
    </div>
  );
}
