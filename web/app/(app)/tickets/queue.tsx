"use client";

import { Icon } from "@/components/icons";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { ShortcutHelp } from "@/components/shortcut-help";
import { PriorityBadge, SlaBadge, StatusBadge } from "@/components/ticket-badges";
import { useToast } from "@/components/toast";
import { Button, EmptyState, ErrorNotice, Input, LoadMore, Select, Skeleton } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { TicketPriority, TicketStatus } from "@/lib/api/types";
import { useAuth } from "@/lib/auth";
import { useAgents, useCategories, useTeams } from "@/lib/directory";
import { useI18n, type MessageKey } from "@/lib/i18n";
import { countFor, loadQueuePage, queueRequest, rememberQueueOrder, SORTS, VIEWS, type QueueView } from "@/lib/queue";
import { usePaged } from "@/lib/paged";
import { useQuery } from "@/lib/query";
import { useShortcuts } from "@/lib/shortcuts";

const STATUSES: TicketStatus[] = ["new", "open", "pending", "resolved", "closed"];
const PRIORITIES: TicketPriority[] = ["urgent", "high", "normal", "low"];
const FILTER_KEYS = ["status", "priority", "team", "category", "q"] as const;

export function Queue() {
  const { t, locale, formatRelative, formatDateTime } = useI18n();
  const { user } = useAuth();
  const toast = useToast();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();

  const { view, sort, filters, query, key: queryKey } = queueRequest(params);
  const filtered = FILTER_KEYS.some((k) => filters[k]);

  // The first page may already be on its way (prefetchQueue, started with the session check).
  const list = usePaged(queryKey, (cursor: string | null) => loadQueuePage({ ...query, cursor }));
  // Counts and the filters' reference lists wait for the rows: the list is what the agent came for.
  const ready = list.items !== undefined;
  const teams = useTeams(ready);
  const categories = useCategories(ready);
  const agents = useAgents(ready);
  const counts = useQuery(ready ? "counts" : null, () => unwrap(api().GET("/api/v1/tickets/counts")));
  const tickets = useMemo(() => list.items ?? [], [list.items]);

  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [focus, setFocus] = useState(0);
  const [help, setHelp] = useState(false);
  const [search, setSearch] = useState(filters.q);
  const rows = useRef<(HTMLTableRowElement | null)[]>([]);

  useEffect(() => {
    setSelected(new Set());
    setFocus(0);
  }, [queryKey]);
  useEffect(() => setSearch(filters.q), [filters.q]);
  useEffect(() => rememberQueueOrder(tickets.map((tk) => tk.id)), [tickets]);

  const setParams = useCallback(
    (changes: Record<string, string | null>) => {
      const next = new URLSearchParams(params.toString());
      for (const [k, v] of Object.entries(changes)) {
        if (v) next.set(k, v);
        else next.delete(k);
      }
      router.replace(`${pathname}?${next.toString()}`, { scroll: false });
    },
    [params, pathname, router],
  );

  async function bulk(change: { status?: TicketStatus; assignee_id?: number | null }) {
    const ids = [...selected];
    if (!ids.length) return;
    try {
      await unwrap(api().POST("/api/v1/tickets/bulk", { body: { ticket_ids: ids, ...change } }));
      toast(t("queue.bulkDone", { count: ids.length }));
      setSelected(new Set());
      await Promise.all([list.refetch(), counts.refetch()]);
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    }
  }

  function move(delta: number) {
    if (!tickets.length) return;
    const next = Math.max(0, Math.min(tickets.length - 1, focus + delta));
    setFocus(next);
    rows.current[next]?.scrollIntoView({ block: "nearest" });
  }

  useShortcuts({
    j: () => move(1),
    k: () => move(-1),
    o: () => tickets[focus] && router.push(`/tickets/${tickets[focus].id}`),
    Enter: () => tickets[focus] && router.push(`/tickets/${tickets[focus].id}`),
    x: () => tickets[focus] && toggle(tickets[focus].id),
    "?": () => setHelp(true),
  });

  function toggle(id: number) {
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  function submitSearch(e: FormEvent) {
    e.preventDefault();
    setParams({ q: search.trim() || null });
  }

  const allSelected = tickets.length > 0 && tickets.every((tk) => selected.has(tk.id));

  return (
    <div className="flex flex-col gap-5 lg:flex-row">
      <aside className="lg:w-52 lg:shrink-0">
        <h2 className="mb-2 px-2 text-xs font-semibold uppercase tracking-wide text-slate-500">{t("queue.views")}</h2>
        <nav className="flex gap-1 overflow-x-auto lg:flex-col" data-testid="queue-views">
          {VIEWS.map((v) => {
            const count = countFor(v, counts.data);
            return (
              <button
                key={v}
                type="button"
                onClick={() => setParams({ view: v })}
                aria-current={view === v ? "page" : undefined}
                data-view={v}
                className={`flex shrink-0 items-center justify-between gap-3 rounded-md px-3 py-2 text-left text-sm ${
                  view === v ? "bg-brand-50 font-medium text-brand-700" : "text-slate-700 hover:bg-slate-100"
                }`}
              >
                <span>{t(`queue.${v}` as MessageKey)}</span>
                {count !== undefined && (
                  <span
                    data-testid={`count-${v}`}
                    className={`rounded-full px-2 text-xs tabular-nums ${
                      v === "breached" && count > 0
                        ? "bg-red-100 text-red-700"
                        : v === "at_risk" && count > 0
                          ? "bg-amber-100 text-amber-800"
                          : "bg-slate-100 text-slate-600"
                    }`}
                  >
                    {count}
                  </span>
                )}
              </button>
            );
          })}
        </nav>
      </aside>

      <section className="min-w-0 flex-1">
        <div className="mb-3 flex flex-wrap items-center gap-2">
          <h1 className="mr-auto text-xl font-semibold">{t(`queue.${view}` as MessageKey)}</h1>
          <form onSubmit={submitSearch} className="flex gap-1" role="search">
            <Input
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder={t("queue.searchPlaceholder")}
              aria-label={t("common.search")}
              className="w-64"
              data-testid="queue-search"
            />
            <Button type="submit">{t("common.search")}</Button>
          </form>
        </div>
        <div className="mb-3 flex flex-wrap items-center gap-2 text-sm">
          <FilterSelect label={t("queue.filterStatus")} value={filters.status} onChange={(v) => setParams({ status: v })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </FilterSelect>
          <FilterSelect label={t("queue.filterPriority")} value={filters.priority} onChange={(v) => setParams({ priority: v })}>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {t(`priority.${p}`)}
              </option>
            ))}
          </FilterSelect>
          <FilterSelect label={t("queue.filterTeam")} value={filters.team} onChange={(v) => setParams({ team: v })}>
            {(teams ?? []).map((tm) => (
              <option key={tm.id} value={tm.id}>
                {tm.name}
              </option>
            ))}
          </FilterSelect>
          <FilterSelect label={t("queue.filterCategory")} value={filters.category} onChange={(v) => setParams({ category: v })}>
            {(categories ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {locale === "en" && c.name_en ? c.name_en : c.name}
              </option>
            ))}
          </FilterSelect>
          <label className="ml-auto flex items-center gap-1.5">
            <span className="text-slate-500">{t("queue.sort")}</span>
            <Select value={sort} onChange={(e) => setParams({ sort: e.target.value === "-updated" ? null : e.target.value })} className="w-auto py-1" data-testid="queue-sort">
              {SORTS.map((s) => (
                <option key={s} value={s}>
                  {t(`queue.sort.${s}` as MessageKey)}
                </option>
              ))}
            </Select>
          </label>
        </div>

        {selected.size > 0 && (
          <div className="mb-3 flex flex-wrap items-center gap-2 rounded-lg border border-brand-100 bg-brand-50 px-3 py-2 text-sm" data-testid="bulk-bar">
            <span className="font-medium text-brand-700">{t("queue.selected", { count: selected.size })}</span>
            <Button size="sm" onClick={() => void bulk({ assignee_id: user.id })}>
              {t("queue.bulkAssignMe")}
            </Button>
            <Select
              aria-label={t("queue.bulkAssign")}
              value=""
              onChange={(e) => e.target.value && void bulk({ assignee_id: e.target.value === "none" ? null : Number(e.target.value) })}
              className="w-auto py-1 text-xs"
              data-testid="bulk-assign"
            >
              <option value="">{t("queue.bulkAssign")}…</option>
              <option value="none">{t("queue.bulkUnassign")}</option>
              {(agents ?? []).map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name || a.email}
                </option>
              ))}
            </Select>
            <Select
              aria-label={t("queue.bulkStatus")}
              value=""
              onChange={(e) => e.target.value && void bulk({ status: e.target.value as TicketStatus })}
              className="w-auto py-1 text-xs"
              data-testid="bulk-status"
            >
              <option value="">{t("queue.bulkStatus")}…</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`status.${s}`)}
                </option>
              ))}
            </Select>
          </div>
        )}

        {list.error ? (
          <ErrorNotice error={list.error} onRetry={() => void list.refetch()} />
        ) : list.items === undefined ? (
          <Skeleton lines={8} />
        ) : tickets.length === 0 ? (
          filtered ? (
            <EmptyState
              title={t("queue.emptyFiltered")}
              icon="search"
              action={
                <Button onClick={() => setParams(Object.fromEntries(FILTER_KEYS.map((k) => [k, null])))}>
                  {t("queue.clearFilters")}
                </Button>
              }
            />
          ) : (
            <EmptyState title={t("queue.empty")} body={t("queue.emptyBody")} icon="check" />
          )
        ) : (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table className="min-w-full text-sm" data-testid="queue-table">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                <tr>
                  <th scope="col" className="w-8 px-3 py-2">
                    <input
                      type="checkbox"
                      aria-label={t("queue.selectAll")}
                      checked={allSelected}
                      onChange={() => setSelected(allSelected ? new Set() : new Set(tickets.map((tk) => tk.id)))}
                    />
                  </th>
                  <th scope="col" className="px-3 py-2">{t("queue.col.subject")}</th>
                  <th scope="col" className="px-3 py-2">{t("queue.col.status")}</th>
                  <th scope="col" className="px-3 py-2">{t("queue.col.priority")}</th>
                  <th scope="col" className="hidden px-3 py-2 md:table-cell">{t("queue.col.assignee")}</th>
                  <th scope="col" className="hidden px-3 py-2 xl:table-cell">{t("queue.col.team")}</th>
                  <th scope="col" className="px-3 py-2">{t("queue.col.sla")}</th>
                  <th scope="col" className="px-3 py-2 text-right">{t("queue.col.updated")}</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {tickets.map((tk, i) => (
                  <tr
                    key={tk.id}
                    ref={(el) => {
                      rows.current[i] = el;
                    }}
                    data-testid="queue-row"
                    data-ticket-id={tk.id}
                    aria-selected={focus === i}
                    onClick={() => setFocus(i)}
                    className={`${focus === i ? "bg-brand-50/70 shadow-[inset_3px_0_0_var(--color-brand-500)]" : "hover:bg-slate-50"} ${
                      tk.status === "new" ? "font-medium" : ""
                    }`}
                  >
                    <td className="px-3 py-2">
                      <input
                        type="checkbox"
                        aria-label={`${t("queue.select")} #${tk.number}`}
                        checked={selected.has(tk.id)}
                        onChange={() => toggle(tk.id)}
                      />
                    </td>
                    <td className="max-w-md px-3 py-2">
                      <Link href={`/tickets/${tk.id}`} className="block truncate text-slate-900 hover:text-brand-700">
                        <span className="mr-1.5 text-xs font-normal text-slate-400">#{tk.number}</span>
                        {tk.subject}
                      </Link>
                      <span className="block truncate text-xs font-normal text-slate-500">
                        {tk.requester ? tk.requester.name || tk.requester.email : "—"}
                        {tk.attachment_count > 0 && (
                          <span className="ml-2 inline-flex items-center gap-0.5 align-middle">
                            <Icon name="paperclip" className="h-3 w-3" />
                            {tk.attachment_count}
                          </span>
                        )}
                        {tk.channel === "email" && <Icon name="mail" className="ml-2 inline h-3 w-3 align-middle" />}
                      </span>
                    </td>
                    <td className="px-3 py-2">
                      <StatusBadge status={tk.status} />
                    </td>
                    <td className="px-3 py-2">
                      <PriorityBadge priority={tk.priority} />
                    </td>
                    <td className="hidden px-3 py-2 font-normal text-slate-600 md:table-cell">
                      {tk.assignee?.name ?? <span className="text-slate-400">{t("ticket.unassigned")}</span>}
                    </td>
                    <td className="hidden px-3 py-2 font-normal text-slate-600 xl:table-cell">{tk.team?.name ?? "—"}</td>
                    <td className="px-3 py-2">
                      <SlaBadge state={tk.sla_state} />
                    </td>
                    <td className="whitespace-nowrap px-3 py-2 text-right text-xs font-normal text-slate-500" title={formatDateTime(tk.updated_at)}>
                      {formatRelative(tk.updated_at)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <LoadMore list={list} />
      </section>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
    </div>
  );
}

function FilterSelect({
  label,
  value,
  onChange,
  children,
}: {
  label: string;
  value: string;
  onChange: (value: string | null) => void;
  children: React.ReactNode;
}) {
  const { t } = useI18n();
  return (
    <Select
      aria-label={label}
      value={value}
      onChange={(e) => onChange(e.target.value || null)}
      className={`w-auto py-1 ${value ? "border-brand-500 bg-brand-50" : ""}`}
    >
      <option value="">
        {label}: {t("common.all")}
      </option>
      {children}
    </Select>
  );
}

export type { QueueView };
