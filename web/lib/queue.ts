import type { Paths } from "./api/client";
import type { TicketCounts, TicketStatus } from "./api/types";

export type TicketQuery = NonNullable<Paths["/api/v1/tickets"]["get"]["parameters"]["query"]>;

export const VIEWS = ["unassigned", "mine", "my_team", "open", "at_risk", "breached", "all"] as const;
export type QueueView = (typeof VIEWS)[number];

/** Statuses that still need work (what the queue counts call "open"). */
export const ACTIVE_STATUSES: TicketStatus[] = ["new", "open", "pending"];

export function parseView(value: string | null): QueueView {
  return (VIEWS as readonly string[]).includes(value ?? "") ? (value as QueueView) : "mine";
}

/** What each queue view asks of GET /tickets. */
export function viewQuery(view: QueueView): TicketQuery {
  switch (view) {
    case "unassigned":
      return { assignee: "none", status: ACTIVE_STATUSES };
    case "mine":
      return { assignee: "me", status: ACTIVE_STATUSES };
    case "my_team":
      return { team: "mine", status: ACTIVE_STATUSES };
    case "open":
      return { status: ACTIVE_STATUSES };
    case "at_risk":
      return { sla: "at_risk", status: ACTIVE_STATUSES };
    case "breached":
      return { sla: "breached", status: ACTIVE_STATUSES };
    case "all":
      return {};
  }
}

export function countFor(view: QueueView, counts: TicketCounts | undefined): number | undefined {
  if (!counts || view === "all") return undefined;
  return counts[view];
}

export const SORTS = ["-updated", "updated", "-created", "created", "-priority", "priority"] as const;

const ORDER_KEY = "sd.queue.order";

/** The queue remembers its order so j/k on a ticket page walk the same list. */
export function rememberQueueOrder(ids: number[]): void {
  try {
    sessionStorage.setItem(ORDER_KEY, JSON.stringify(ids));
  } catch {
    // Private mode or full storage: j/k on the ticket page simply do nothing.
  }
}

export function neighbourInQueue(id: number, delta: 1 | -1): number | null {
  try {
    const ids = JSON.parse(sessionStorage.getItem(ORDER_KEY) ?? "[]") as number[];
    const at = ids.indexOf(id);
    if (at < 0) return null;
    return ids[at + delta] ?? null;
  } catch {
    return null;
  }
}
