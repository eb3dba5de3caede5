"use client";

import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { MailReason, TrustBadge } from "@/components/mail-trust";
import { useToast } from "@/components/toast";
import { Badge, Button, EmptyState, Input, ListStates, LoadMore, PageHeader, Select, type Tone } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { BulkReleaseResult, InboundStatus, ReleaseMode } from "@/lib/api/types";
import { formatBytes, useI18n } from "@/lib/i18n";
import { TRUST_LEVELS, isTrustLevel } from "@/lib/mail-trust";
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

export const RELEASE_MODES: ReleaseMode[] = ["as_claimed", "plain"];
const MAX_BULK = 500; // BulkReleaseIn.ids in api/routers/maillog.py

export function InboundAdmin() {
  const { t, formatRelative, formatDateTime } = useI18n();
  const toast = useToast();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const status = params.get("status") ?? "quarantined";
  const q = params.get("q") ?? "";
  const trust = params.get("trust") ?? "";
  const [search, setSearch] = useState(q);
  const query = {
    status: status === "all" ? undefined : (status as InboundStatus),
    q: q || undefined,
    trust_level: isTrustLevel(trust) ? trust : undefined,
  };
  const list = usePaged(`inbound-${status}-${trust}-${q}`, (cursor: string | null) =>
    unwrap(api().GET("/api/v1/admin/inbound", { params: { query: { ...query, cursor } } })),
  );
  const items = list.items ?? [];
  const releasable = items.filter((m) => m.status === "quarantined");
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [mode, setMode] = useState<ReleaseMode>("as_claimed");
  const [releasing, setReleasing] = useState(false);
  const [result, setResult] = useState<BulkReleaseResult | null>(null);
  useEffect(() => {
    setSelected(new Set());
    setResult(null);
  }, [status, q, trust]);
  const allSelected = releasable.length > 0 && releasable.every((m) => selected.has(m.id));

  function toggle(id: number) {
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  async function releaseSelected() {
    const ids = releasable.filter((m) => selected.has(m.id)).map((m) => m.id);
    if (!ids.length) return;
    setReleasing(true);
    const done: BulkReleaseResult = { released: [], failed: [] };
    try {
      for (let i = 0; i < ids.length; i += MAX_BULK) {
        const part = await unwrap(
          api().POST("/api/v1/admin/inbound/release-bulk", { body: { ids: ids.slice(i, i + MAX_BULK), mode } }),
        );
        done.released.push(...part.released);
        done.failed.push(...part.failed);
      }
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    } finally {
      setResult(done.released.length || done.failed.length ? done : null);
      setSelected(new Set());
      setReleasing(false);
      await list.refetch();
    }
  }

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
          <>
            <Select
              aria-label={t("mail.trust")}
              value={isTrustLevel(trust) ? trust : ""}
              onChange={(e) => go({ trust: e.target.value })}
              className="w-auto py-1.5"
              data-testid="inbound-trust-filter"
            >
              <option value="">{t("mail.trustAll")}</option>
              {TRUST_LEVELS.map((level) => (
                <option key={level} value={level}>
                  {t(`trust.level.${level}`)}
                </option>
              ))}
            </Select>
            <form onSubmit={submit} role="search" className="flex gap-1">
              <Input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder={t("mail.search")} aria-label={t("common.search")} className="w-56 py-1.5" />
              <Button type="submit">{t("common.search")}</Button>
            </form>
          </>
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
      {result && <BulkResultNotice result={result} onClose={() => setResult(null)} />}
      {selected.size > 0 && (
        <div className="mb-3 flex flex-wrap items-center gap-2 rounded-lg border border-brand-100 bg-brand-50 px-3 py-2 text-sm" data-testid="mail-bulk-bar">
          <span className="font-medium text-brand-700">{t("mail.selected", { count: selected.size })}</span>
          <Select
            aria-label={t("mail.releaseMode")}
            value={mode}
            onChange={(e) => setMode(e.target.value as ReleaseMode)}
            className="w-auto py-1 text-xs"
            data-testid="bulk-release-mode"
          >
            {RELEASE_MODES.map((m) => (
              <option key={m} value={m}>
                {t(`mail.mode.${m}`)}
              </option>
            ))}
          </Select>
          <Button size="sm" variant="primary" onClick={() => void releaseSelected()} disabled={releasing} data-testid="bulk-release">
            {releasing ? t("mail.bulkReleasing") : t("mail.bulkRelease")}
          </Button>
          <span className="text-xs text-slate-700">{t(`mail.modeHint.${mode}`)} · {t("mail.bulkHint")}</span>
        </div>
      )}
      <ListStates items={list.items} error={list.error} onRetry={() => void list.refetch()} empty={<EmptyState title={t("mail.empty")} icon="inbox" />}>
        {(items) => (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="inbound-table">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="w-8 px-3 py-2">
                    {releasable.length > 0 && (
                      <input
                        type="checkbox"
                        aria-label={t("mail.selectAll")}
                        checked={allSelected}
                        onChange={() => setSelected(allSelected ? new Set() : new Set(releasable.map((m) => m.id)))}
                        data-testid="inbound-select-all"
                      />
                    )}
                  </th>
                  <th className="px-3 py-2">{t("mail.received")}</th>
                  <th className="px-3 py-2">{t("mail.from")}</th>
                  <th className="px-3 py-2">{t("mail.subject")}</th>
                  <th className="px-3 py-2">{t("common.status")}</th>
                  <th className="px-3 py-2">{t("mail.trust")}</th>
                  <th className="px-3 py-2">{t("mail.reason")}</th>
                  <th className="px-3 py-2 text-right">{t("mail.size")}</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {items.map((m) => (
                  <tr key={m.id} className="hover:bg-slate-50" data-testid="inbound-row" data-inbound-id={m.id}>
                    <td className="px-3 py-2">
                      {m.status === "quarantined" && (
                        <input
                          type="checkbox"
                          aria-label={`${t("mail.select")} ${m.subject || m.id}`}
                          checked={selected.has(m.id)}
                          onChange={() => toggle(m.id)}
                          data-testid="inbound-select"
                        />
                      )}
                    </td>
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
                    <td className="px-3 py-2">{m.trust_level ? <TrustBadge level={m.trust_level} /> : "—"}</td>
                    <td className="max-w-xs truncate px-3 py-2 text-xs text-slate-700">{m.reason ? <MailReason reason={m.reason} /> : "—"}</td>
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

function BulkResultNotice({ result, onClose }: { result: BulkReleaseResult; onClose: () => void }) {
  const { t } = useI18n();
  const failed = result.failed.length > 0;
  return (
    <div
      role="status"
      className={`mb-3 rounded-lg border px-4 py-3 text-sm ${failed ? "border-amber-300 bg-amber-50" : "border-emerald-200 bg-emerald-50"}`}
      data-testid="bulk-result"
    >
      <div className="flex items-start justify-between gap-3">
        <p className="font-medium text-slate-900">
          <span data-testid="bulk-released">{t("mail.bulkReleased", { count: result.released.length })}</span>
          {failed && <span className="ml-2 text-amber-900">{t("mail.bulkFailed", { count: result.failed.length })}</span>}
        </p>
        <Button size="sm" variant="ghost" onClick={onClose}>
          {t("common.close")}
        </Button>
      </div>
      {failed && (
        <ul className="mt-2 space-y-1 text-xs text-slate-800" data-testid="bulk-failures">
          {result.failed.map((f) => (
            <li key={f.id}>
              <Link href={`/admin/mail/${f.id}`} className="font-medium text-brand-700 hover:underline">
                #{f.id}
              </Link>
              : <span className="break-words">{f.error}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
