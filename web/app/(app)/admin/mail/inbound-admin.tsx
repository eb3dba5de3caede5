"use client";

import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { Badge, Button, EmptyState, Input, ListStates, LoadMore, PageHeader, type Tone } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { InboundStatus } from "@/lib/api/types";
import { formatBytes, useI18n } from "@/lib/i18n";
import { usePaged } from "@/lib/paged";

export const INBOUND_STATUSES: InboundStatus[] = ["quarantined", "failed", "received", "processing", "processed", "ignored"];
const TONES: Record<InboundStatus, Tone> = {
  quarantined: "amber",
  failed: "red",
  received: "blue",
  processing: "blue",
  processed: "green",
  ignored: "gray",
};

export function InboundStatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const known = (INBOUND_STATUSES as string[]).includes(status);
  return <Badge tone={known ? TONES[status as InboundStatus] : "slate"}>{known ? t(`mailStatus.${status as InboundStatus}`) : status}</Badge>;
}

export function InboundAdmin() {
  const { t, formatRelative, formatDateTime } = useI18n();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const status = params.get("status") ?? "quarantined";
  const q = params.get("q") ?? "";
  const [search, setSearch] = useState(q);
  const query = {
    status: status === "all" ? undefined : (status as InboundStatus),
    q: q || undefined,
  };
  const list = usePaged(`inbound-${status}-${q}`, (cursor: string | null) =>
    unwrap(api().GET("/api/v1/admin/inbound", { params: { query: { ...query, cursor } } })),
  );
  function go(changes: Record<string, string>) {
    const next = new URLSearchParams(params.toString());
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    router.replace(`${pathname}?${next.toString()}`);
  }
  function submit(e: FormEvent) {
    e.preventDefault();
    go({ q: search.trim() });
  }

  return (
    <div>
      <PageHeader
        title={t("admin.mail")}
        actions={
          <form onSubmit={submit} role="search" className="flex gap-1">
            <Input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder={t("mail.search")} aria-label={t("common.search")} className="w-56 py-1.5" />
            <Button type="submit">{t("common.search")}</Button>
          </form>
        }
      />
      <div className="mb-3 flex flex-wrap gap-1" role="tablist" data-testid="inbound-status-tabs">
        {[...INBOUND_STATUSES, "all" as const].map((s) => (
          <button
            key={s}
            type="button"
            role="tab"
            aria-selected={status === s}
            onClick={() => go({ status: s })}
            data-status={s}
            className={`rounded-full px-3 py-1 text-sm ${status === s ? "bg-brand-600 text-white" : "bg-white text-slate-700 ring-1 ring-slate-200 hover:bg-slate-50"}`}
          >
            {s === "all" ? t("common.all") : t(`mailStatus.${s}`)}
          </button>
        ))}
      </div>
      <ListStates items={list.items} error={list.error} onRetry={() => void list.refetch()} empty={<EmptyState title={t("mail.empty")} icon="inbox" />}>
        {(items) => (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="inbound-table">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="px-3 py-2">{t("mail.received")}</th>
                  <th className="px-3 py-2">{t("mail.from")}</th>
                  <th className="px-3 py-2">{t("mail.subject")}</th>
                  <th className="px-3 py-2">{t("common.status")}</th>
                  <th className="px-3 py-2">{t("mail.reason")}</th>
                  <th className="px-3 py-2 text-right">{t("mail.size")}</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {items.map((m) => (
                  <tr key={m.id} className="hover:bg-slate-50" data-testid="inbound-row">
                    <td className="whitespace-nowrap px-3 py-2 text-xs" title={formatDateTime(m.received_at)}>
                      {formatRelative(m.received_at)}
                    </td>
                    <td className="max-w-48 truncate px-3 py-2 text-xs">{m.from_address || m.mail_from || "—"}</td>
                    <td className="max-w-md px-3 py-2">
                      <Link href={`/admin/mail/${m.id}`} className="block truncate font-medium hover:text-brand-700">
                        {m.subject || "(no subject)"}
                      </Link>
                    </td>
                    <td className="px-3 py-2">
                      <InboundStatusBadge status={m.status} />
                    </td>
                    <td className="max-w-xs truncate px-3 py-2 text-xs text-slate-600">{m.reason ?? "—"}</td>
                    <td className="whitespace-nowrap px-3 py-2 text-right text-xs tabular-nums">{formatBytes(m.raw_size)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </ListStates>
      <LoadMore list={list} />
    </div>
  );
}
