"use client";

import Link from "next/link";
import { useState } from "react";
import { PriorityBadge, StatusBadge } from "@/components/ticket-badges";
import { Button, ButtonLink, EmptyState, ErrorNotice, PageHeader, Skeleton } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { TicketSummary } from "@/lib/api/types";
import { useAuth } from "@/lib/auth";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";

export function MyRequests() {
  const { t, formatRelative } = useI18n();
  const { user } = useAuth();
  const [more, setMore] = useState<TicketSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const query = useQuery(`my-requests-${user.id}`, async () => {
    const page = await unwrap(
      api().GET("/api/v1/tickets", { params: { query: { sort: "-updated", limit: 50 } } }),
    );
    setMore([]);
    setCursor(page.next_cursor);
    return page.items;
  });

  async function loadMore() {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await unwrap(
        api().GET("/api/v1/tickets", {
          params: { query: { sort: "-updated", limit: 50, cursor } },
        }),
      );
      setMore((list) => [...list, ...page.items]);
      setCursor(page.next_cursor);
    } finally {
      setLoadingMore(false);
    }
  }

  const items = [...(query.data ?? []), ...more];
  return (
    <div className="mx-auto max-w-4xl">
      <PageHeader title={t("requests.title")} actions={<ButtonLink href="/requests/new">{t("requests.new")}</ButtonLink>} />
      {query.error ? (
        <ErrorNotice error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data === undefined ? (
        <Skeleton />
      ) : items.length === 0 ? (
        <EmptyState
          title={t("requests.empty")}
          body={t("requests.emptyBody")}
          action={<ButtonLink href="/requests/new">{t("requests.new")}</ButtonLink>}
        />
      ) : (
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
      {cursor && (
        <div className="mt-4 text-center">
          <Button onClick={() => void loadMore()} disabled={loadingMore}>
            {t("queue.loadMore")}
          </Button>
        </div>
      )}
    </div>
  );
}
