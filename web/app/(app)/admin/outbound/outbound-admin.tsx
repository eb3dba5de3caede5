"use client";

import Link from "next/link";
import { useState } from "react";
import { useToast } from "@/components/toast";
import { Badge, Button, EmptyState, ListStates, LoadMore, PageHeader, type Tone } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { OutboundEmail } from "@/lib/api/types";
import { useI18n, type MessageKey } from "@/lib/i18n";
import { usePaged } from "@/lib/paged";

const STATUSES = ["queued", "sending", "sent", "failed", "suppressed"] as const;
const TONES: Record<string, Tone> = { queued: "amber", sending: "blue", sent: "green", failed: "red", suppressed: "gray" };

export function OutboundAdmin() {
  const { t, formatRelative, formatDateTime } = useI18n();
  const toast = useToast();
  const [status, setStatus] = useState("");
  const list = usePaged(`outbound-${status}`, (cursor: number | null) =>
    unwrap(
      api().GET("/api/v1/admin/outbound", {
        params: { query: { status: (status || undefined) as (typeof STATUSES)[number] | undefined, cursor } },
      }),
    ),
  );

  async function retry(mail: OutboundEmail) {
    try {
      await unwrap(api().POST("/api/v1/admin/outbound/{email_id}/retry", { params: { path: { email_id: mail.id } } }));
      toast(t("mail.actionDone"));
      void list.refetch();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    }
  }

  return (
    <div>
      <PageHeader title={t("admin.outbound")} />
      <div className="mb-3 flex flex-wrap gap-1" role="tablist">
        {["", ...STATUSES].map((s) => (
          <button
            key={s || "all"}
            type="button"
            role="tab"
            aria-selected={status === s}
            onClick={() => setStatus(s)}
            className={`rounded-full px-3 py-1 text-sm ${status === s ? "bg-brand-600 text-white" : "bg-white text-slate-700 ring-1 ring-slate-200 hover:bg-slate-50"}`}
          >
            {s ? t(`outStatus.${s}` as MessageKey) : t("common.all")}
          </button>
        ))}
      </div>
      <ListStates items={list.items} error={list.error} onRetry={() => void list.refetch()} empty={<EmptyState title={t("outbound.empty")} icon="mail" />}>
        {(items) => (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="outbound-table">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="px-3 py-2">{t("ticket.created")}</th>
                  <th className="px-3 py-2">{t("outbound.recipient")}</th>
                  <th className="px-3 py-2">{t("mail.subject")}</th>
                  <th className="px-3 py-2">{t("outbound.kind")}</th>
                  <th className="px-3 py-2">{t("common.status")}</th>
                  <th className="px-3 py-2">{t("outbound.lastError")}</th>
                  <th className="px-3 py-2 text-right">{t("common.actions")}</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {items.map((m) => (
                  <tr key={m.id} data-testid="outbound-row">
                    <td className="whitespace-nowrap px-3 py-2 text-xs" title={formatDateTime(m.created_at)}>
                      {formatRelative(m.created_at)}
                    </td>
                    <td className="max-w-48 truncate px-3 py-2 text-xs">{m.recipient}</td>
                    <td className="max-w-md truncate px-3 py-2">
                      {m.ticket_id ? (
                        <Link href={`/tickets/${m.ticket_id}`} className="hover:text-brand-700">
                          {m.subject}
                        </Link>
                      ) : (
                        m.subject
                      )}
                    </td>
                    <td className="px-3 py-2 font-mono text-xs">{m.kind}</td>
                    <td className="px-3 py-2">
                      <Badge tone={TONES[m.status] ?? "slate"}>{t(`outStatus.${m.status}` as MessageKey)}</Badge>
                      {m.attempts > 1 && <span className="ml-1 text-xs text-slate-400">×{m.attempts}</span>}
                    </td>
                    <td className="max-w-xs truncate px-3 py-2 text-xs text-red-700" title={m.last_error ?? undefined}>
                      {m.last_error ?? ""}
                    </td>
                    <td className="px-3 py-2 text-right">
                      {m.status === "failed" && (
                        <Button size="sm" onClick={() => void retry(m)}>
                          {t("outbound.retry")}
                        </Button>
                      )}
                    </td>
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
