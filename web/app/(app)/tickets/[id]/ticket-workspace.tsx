"use client";

import { Icon } from "@/components/icons";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState, type FormEvent } from "react";
import { AttachmentList } from "@/components/attachments";
import { Composer, type ComposerHandle } from "@/components/composer";
import { ShortcutHelp } from "@/components/shortcut-help";
import { PriorityBadge, SlaBadge, SlaCountdown, StatusBadge } from "@/components/ticket-badges";
import { Thread } from "@/components/thread";
import { useToast } from "@/components/toast";
import { Button, Card, ErrorNotice, Input, Select, Skeleton } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { TicketDetail, TicketEvent, TicketPriority, TicketStatus } from "@/lib/api/types";
import { useAuth } from "@/lib/auth";
import { useAgents, useCanned, useCategories, useTeams } from "@/lib/directory";
import { useI18n, type MessageKey } from "@/lib/i18n";
import { useQuery } from "@/lib/query";
import { neighbourInQueue } from "@/lib/queue";
import { useShortcuts } from "@/lib/shortcuts";

const STATUSES: TicketStatus[] = ["new", "open", "pending", "resolved", "closed"];
const PRIORITIES: TicketPriority[] = ["low", "normal", "high", "urgent"];

type Patch = Partial<{
  status: TicketStatus;
  priority: TicketPriority;
  assignee_id: number | null;
  team_id: number | null;
  category_id: number | null;
}>;

export function TicketWorkspace({ ticketId }: { ticketId: number }) {
  const { t } = useI18n();
  const { user } = useAuth();
  const router = useRouter();
  const toast = useToast();
  const composer = useRef<ComposerHandle>(null);
  const [help, setHelp] = useState(false);
  const canned = useCanned();
  const path = { params: { path: { ticket_id: ticketId } } };

  const ticket = useQuery(`ticket-${ticketId}`, () => unwrap(api().GET("/api/v1/tickets/{ticket_id}", path)));
  const comments = useQuery(`comments-${ticketId}`, () =>
    unwrap(api().GET("/api/v1/tickets/{ticket_id}/comments", path)),
  );
  const events = useQuery(`events-${ticketId}`, () => unwrap(api().GET("/api/v1/tickets/{ticket_id}/events", path)));

  async function patch(change: Patch) {
    try {
      const updated = await unwrap(api().PATCH("/api/v1/tickets/{ticket_id}", { ...path, body: change }));
      ticket.setData(updated);
      toast(t("ticket.updatedToast"));
      void events.refetch();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    }
  }

  function go(delta: 1 | -1) {
    const next = neighbourInQueue(ticketId, delta);
    if (next) router.push(`/tickets/${next}`);
  }

  useShortcuts({
    j: () => go(1),
    k: () => go(-1),
    r: () => composer.current?.focus("public"),
    n: () => composer.current?.focus("internal"),
    e: () => ticket.data && ticket.data.status !== "resolved" && void patch({ status: "resolved" }),
    "?": () => setHelp(true),
  });

  if (ticket.error) {
    return (
      <div className="mx-auto max-w-3xl">
        <ErrorNotice error={ticket.error} onRetry={() => void ticket.refetch()} />
      </div>
    );
  }
  if (!ticket.data) return <Skeleton lines={10} />;
  const tk = ticket.data;

  return (
    <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_20rem]">
      <div className="min-w-0 space-y-5">
        <div>
          <div className="flex items-center gap-3 text-sm text-slate-500">
            <Link href="/tickets" className="hover:text-slate-800">
              ← {t("queue.title")}
            </Link>
            <button type="button" onClick={() => setHelp(true)} className="ml-auto rounded px-1.5 hover:bg-slate-100" aria-label={t("nav.shortcuts")}>
              <kbd className="font-mono text-xs">?</kbd> {t("nav.shortcuts")}
            </button>
          </div>
          <h1 className="mt-2 text-xl font-semibold" data-testid="ticket-subject">
            <span className="mr-2 text-slate-400">#{tk.number}</span>
            {tk.subject}
          </h1>
          <div className="mt-2 flex flex-wrap items-center gap-2 text-sm">
            <StatusBadge status={tk.status} />
            <PriorityBadge priority={tk.priority} />
            {tk.requester && (
              <span className="text-slate-500" data-testid="ticket-requester">
                {tk.requester.name} &lt;{tk.requester.email}&gt;
              </span>
            )}
            {tk.merged_into_id && (
              <Link href={`/tickets/${tk.merged_into_id}`} className="text-brand-600 hover:underline">
                {t("ticket.mergedInto", { number: tk.merged_into_id })}
              </Link>
            )}
          </div>
        </div>
        {comments.error ? (
          <ErrorNotice error={comments.error} onRetry={() => void comments.refetch()} />
        ) : comments.data === undefined ? (
          <Skeleton lines={4} />
        ) : (
          <Thread comments={comments.data} showInternal />
        )}
        <Composer
          ref={composer}
          ticketId={tk.id}
          allowInternal
          canned={canned ?? []}
          onPosted={(comment) => {
            comments.setData((list) => [...(list ?? []), comment]);
            void ticket.refetch();
            void events.refetch();
          }}
        />
      </div>
      <aside className="space-y-4">
        <Properties ticket={tk} onPatch={patch} meId={user.id} />
        <SlaCard ticket={tk} />
        <Participants ticket={tk} onChanged={() => void ticket.refetch()} />
        {tk.attachments?.length > 0 && (
          <Card className="p-4">
            <h2 className="text-sm font-semibold text-slate-700">{t("ticket.attachments")}</h2>
            <AttachmentList attachments={tk.attachments} />
          </Card>
        )}
        <History events={events.data} error={events.error} people={tk} />
      </aside>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
    </div>
  );
}

function Row({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <label className="grid grid-cols-[6rem_1fr] items-center gap-2 text-sm">
      <span className="text-slate-500">{label}</span>
      {children}
    </label>
  );
}

function Properties({ ticket, onPatch, meId }: { ticket: TicketDetail; onPatch: (p: Patch) => Promise<void>; meId: number }) {
  const { t, locale, formatDateTime } = useI18n();
  const agents = useAgents();
  const teams = useTeams();
  const categories = useCategories();
  const num = (v: string) => (v ? Number(v) : null);
  return (
    <Card className="space-y-3 p-4" >
      <h2 className="text-sm font-semibold text-slate-700">{t("ticket.details")}</h2>
      <Row label={t("ticket.status")}>
        <Select value={ticket.status} onChange={(e) => void onPatch({ status: e.target.value as TicketStatus })} className="py-1" data-testid="ticket-status">
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </Select>
      </Row>
      <Row label={t("ticket.priority")}>
        <Select value={ticket.priority} onChange={(e) => void onPatch({ priority: e.target.value as TicketPriority })} className="py-1" data-testid="ticket-priority">
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {t(`priority.${p}`)}
            </option>
          ))}
        </Select>
      </Row>
      <Row label={t("ticket.assignee")}>
        <div className="flex gap-1">
          <Select value={ticket.assignee?.id ?? ""} onChange={(e) => void onPatch({ assignee_id: num(e.target.value) })} className="py-1" data-testid="ticket-assignee">
            <option value="">{t("ticket.unassigned")}</option>
            {ticket.assignee && !agents?.some((a) => a.id === ticket.assignee!.id) && (
              <option value={ticket.assignee.id}>{ticket.assignee.name}</option>
            )}
            {(agents ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name || a.email}
              </option>
            ))}
          </Select>
        </div>
      </Row>
      {ticket.assignee?.id !== meId && (
        <div className="text-right">
          <Button size="sm" variant="ghost" onClick={() => void onPatch({ assignee_id: meId })}>
            {t("ticket.assignMe")}
          </Button>
        </div>
      )}
      <Row label={t("ticket.team")}>
        <Select value={ticket.team?.id ?? ""} onChange={(e) => void onPatch({ team_id: num(e.target.value) })} className="py-1" data-testid="ticket-team">
          <option value="">{t("ticket.noTeam")}</option>
          {(teams ?? []).map((tm) => (
            <option key={tm.id} value={tm.id}>
              {tm.name}
            </option>
          ))}
        </Select>
      </Row>
      <Row label={t("ticket.category")}>
        <Select value={ticket.category_id ?? ""} onChange={(e) => void onPatch({ category_id: num(e.target.value) })} className="py-1">
          <option value="">{t("common.none")}</option>
          {(categories ?? []).map((c) => (
            <option key={c.id} value={c.id}>
              {locale === "en" && c.name_en ? c.name_en : c.name}
            </option>
          ))}
        </Select>
      </Row>
      <dl className="grid grid-cols-[6rem_1fr] gap-x-2 gap-y-1 border-t border-slate-100 pt-3 text-xs">
        <dt className="text-slate-500">{t("ticket.channel")}</dt>
        <dd>{t(`channel.${ticket.channel}` as MessageKey)}</dd>
        <dt className="text-slate-500">{t("ticket.created")}</dt>
        <dd>{formatDateTime(ticket.created_at)}</dd>
        <dt className="text-slate-500">{t("ticket.updated")}</dt>
        <dd>{formatDateTime(ticket.updated_at)}</dd>
      </dl>
    </Card>
  );
}

function SlaCard({ ticket }: { ticket: TicketDetail }) {
  const { t } = useI18n();
  const sla = ticket.sla;
  const state = sla?.state ?? ticket.sla_state;
  return (
    <Card className="space-y-2 p-4">
      <h2 className="flex items-center justify-between text-sm font-semibold text-slate-700">
        {t("ticket.sla")}
        <SlaBadge state={state} />
      </h2>
      <SlaCountdown
        label={t("sla.firstResponse")}
        dueAt={sla?.first_response_due_at ?? ticket.first_response_due_at}
        doneAt={ticket.first_response_at}
        paused={sla?.paused}
      />
      <SlaCountdown
        label={t("sla.resolution")}
        dueAt={sla?.resolution_due_at ?? ticket.resolution_due_at}
        doneAt={ticket.resolved_at}
        paused={sla?.paused}
      />
    </Card>
  );
}

function Participants({ ticket, onChanged }: { ticket: TicketDetail; onChanged: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [email, setEmail] = useState("");
  const path = { ticket_id: ticket.id };

  async function add(e: FormEvent) {
    e.preventDefault();
    if (!email.trim()) return;
    try {
      await unwrap(api().POST("/api/v1/tickets/{ticket_id}/participants", { params: { path }, body: { email: email.trim() } }));
      setEmail("");
      onChanged();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    }
  }

  async function remove(userId: number) {
    try {
      await unwrap(
        api().DELETE("/api/v1/tickets/{ticket_id}/participants/{user_id}", {
          params: { path: { ticket_id: ticket.id, user_id: userId } },
        }),
      );
      onChanged();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    }
  }

  const people = ticket.participants ?? [];
  return (
    <Card className="space-y-2 p-4">
      <h2 className="text-sm font-semibold text-slate-700">{t("ticket.participants")}</h2>
      {people.length === 0 ? (
        <p className="text-xs text-slate-500">{t("ticket.participantsEmpty")}</p>
      ) : (
        <ul className="space-y-1 text-sm" data-testid="participants">
          {people.map((p) => (
            <li key={p.id} className="flex items-center justify-between gap-2">
              <span className="truncate" title={p.email}>
                {p.name || p.email}
              </span>
              <button
                type="button"
                onClick={() => void remove(p.id)}
                aria-label={`${t("ticket.removeParticipant")}: ${p.name || p.email}`}
                className="rounded px-1 text-slate-400 hover:bg-slate-100 hover:text-slate-700"
              >
                <Icon name="x" className="h-3.5 w-3.5" />
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} className="flex gap-1">
        <Input type="email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder={t("ticket.addParticipant")} aria-label={t("ticket.addParticipant")} className="py-1 text-xs" />
        <Button type="submit" size="sm">
          {t("common.add")}
        </Button>
      </form>
    </Card>
  );
}

type Translate = (k: MessageKey, v?: Record<string, string | number>) => string;
type Names = { user: (id: unknown) => string; team: (id: unknown) => string; category: (id: unknown) => string };

function History({ events, error, people }: { events: TicketEvent[] | undefined; error: unknown; people: TicketDetail }) {
  const { t, locale, formatRelative, formatDateTime } = useI18n();
  const agents = useAgents();
  const teams = useTeams();
  const categories = useCategories();
  const names: Names = {
    user: (id) => {
      const known = [...(agents ?? []), ...(people.participants ?? []), people.requester, people.assignee].find(
        (u) => u && u.id === id,
      );
      return known ? known.name || known.email : id == null ? t("common.none") : `#${String(id)}`;
    },
    team: (id) => teams?.find((tm) => tm.id === id)?.name ?? (id == null ? t("common.none") : `#${String(id)}`),
    category: (id) => {
      const c = categories?.find((x) => x.id === id);
      return c ? (locale === "en" && c.name_en ? c.name_en : c.name) : id == null ? t("common.none") : `#${String(id)}`;
    },
  };
  return (
    <Card className="p-4">
      <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("ticket.history")}</h2>
      {error ? (
        <ErrorNotice error={error} />
      ) : events === undefined ? (
        <Skeleton lines={3} />
      ) : events.length === 0 ? (
        <p className="text-xs text-slate-500">{t("ticket.historyEmpty")}</p>
      ) : (
        <ol className="space-y-2 text-xs" data-testid="history">
          {events.map((ev) => (
            <li key={ev.id} className="border-l-2 border-slate-200 pl-2">
              {describeEvent(ev, t, names).map((line) => (
                <div key={line} className="text-slate-800">
                  {line}
                </div>
              ))}
              <div className="text-slate-400" title={formatDateTime(ev.created_at)}>
                {ev.actor?.name ?? t("thread.system")} · {formatRelative(ev.created_at)}
              </div>
            </li>
          ))}
        </ol>
      )}
    </Card>
  );
}

/** One line per change an event records (data shapes: core/tickets/service.py). */
export function describeEvent(ev: TicketEvent, t: Translate, names: Names): string[] {
  const data = (ev.data ?? {}) as Record<string, unknown>;
  const change = (value: unknown) => (value && typeof value === "object" ? (value as { from?: unknown; to?: unknown }) : {});
  const label = (prefix: string, value: unknown) => {
    if (value === null || value === undefined || value === "") return t("common.none");
    const key = `${prefix}.${String(value)}` as MessageKey;
    const text = t(key);
    return text === key ? String(value) : text;
  };
  switch (ev.kind) {
    case "created":
      return [t("event.created")];
    case "status_changed":
      return [t("event.status_changed", { from: label("status", data.from), to: label("status", data.to) })];
    case "assigned":
      return [data.to == null ? t("event.unassigned") : t("event.assigned", { to: names.user(data.to) })];
    case "fields_changed": {
      const lines: string[] = [];
      if (data.priority) {
        const c = change(data.priority);
        lines.push(t("event.priority_changed", { from: label("priority", c.from), to: label("priority", c.to) }));
      }
      if (data.team_id) {
        const c = change(data.team_id);
        lines.push(t("event.team_changed", { from: names.team(c.from), to: names.team(c.to) }));
      }
      if (data.category_id) {
        const c = change(data.category_id);
        lines.push(t("event.category_changed", { from: names.category(c.from), to: names.category(c.to) }));
      }
      if (data.subject) lines.push(t("event.subject_changed", { to: String(change(data.subject).to ?? "") }));
      return lines.length ? lines : [t("event.other", { kind: ev.kind })];
    }
    case "participant_added":
      return [t("event.participant_added", { name: names.user(data.user_id) })];
    case "participant_removed":
      return [t("event.participant_removed", { name: names.user(data.user_id) })];
    case "merged":
    case "merged_into":
      return [t("event.merged")];
    default:
      return [t("event.other", { kind: ev.kind.replace(/_/g, " ") })];
  }
}
