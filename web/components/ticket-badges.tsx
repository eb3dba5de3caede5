"use client";

import { useEffect, useState } from "react";
import type { SlaState, TicketPriority, TicketStatus } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { Badge, type Tone } from "./ui";

const STATUS_TONE: Record<TicketStatus, Tone> = {
  new: "blue",
  open: "violet",
  pending: "amber",
  resolved: "green",
  closed: "gray",
};
const PRIORITY_TONE: Record<TicketPriority, Tone> = {
  low: "gray",
  normal: "slate",
  high: "amber",
  urgent: "red",
};
const SLA_TONE: Record<SlaState, Tone> = {
  ok: "green",
  at_risk: "amber",
  breached: "red",
  paused: "slate",
  none: "gray",
};

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const known = status in STATUS_TONE;
  return (
    <Badge tone={known ? STATUS_TONE[status as TicketStatus] : "slate"}>
      {known ? t(`status.${status as TicketStatus}`) : status}
    </Badge>
  );
}

export function PriorityBadge({ priority }: { priority: string }) {
  const { t } = useI18n();
  const known = priority in PRIORITY_TONE;
  return (
    <Badge tone={known ? PRIORITY_TONE[priority as TicketPriority] : "slate"}>
      {known ? t(`priority.${priority as TicketPriority}`) : priority}
    </Badge>
  );
}

export function SlaBadge({ state }: { state: string }) {
  const { t } = useI18n();
  const known = state in SLA_TONE;
  if (state === "none") return <span className="text-xs text-slate-400">—</span>;
  return (
    <Badge tone={known ? SLA_TONE[state as SlaState] : "slate"}>
      {known ? t(`sla.${state as SlaState}`) : state}
    </Badge>
  );
}

/** Re-renders every 30 s so countdowns stay honest without a timer per row. */
export function useNow(intervalMs = 30_000): number | null {
  // null until mounted: the server and the browser must render the same first frame.
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

export function SlaCountdown({
  label,
  dueAt,
  doneAt,
  paused,
}: {
  label: string;
  dueAt: string | null | undefined;
  doneAt?: string | null;
  paused?: boolean;
}) {
  const { t, formatDuration, formatDateTime } = useI18n();
  const now = useNow();
  let text: string;
  let tone: Tone;
  if (!dueAt) {
    text = t("sla.none");
    tone = "gray";
  } else if (doneAt) {
    const late = new Date(doneAt).getTime() > new Date(dueAt).getTime();
    text = late ? t("sla.breached") : t("sla.met");
    tone = late ? "red" : "green";
  } else if (paused) {
    text = t("sla.paused");
    tone = "slate";
  } else if (now === null) {
    text = "…";
    tone = "slate";
  } else {
    const left = new Date(dueAt).getTime() - now;
    text = left >= 0 ? t("sla.dueIn", { time: formatDuration(left) }) : t("sla.overdue", { time: formatDuration(left) });
    tone = left < 0 ? "red" : left < 60 * 60 * 1000 ? "amber" : "green";
  }
  return (
    <div className="flex items-center justify-between gap-2 text-sm" data-testid="sla-countdown">
      <span className="text-slate-600">{label}</span>
      <span title={dueAt ? formatDateTime(dueAt) : undefined}>
        <Badge tone={tone}>{text}</Badge>
      </span>
    </div>
  );
}
