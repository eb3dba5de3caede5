import { api, unwrap, type Paths } from "./api/client";
import { prefetch } from "./prefetch";
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
export const PAGE_SIZE = 50;
const FILTERS = ["status", "priority", "team", "category", "q"] as const;
export type QueueFilters = Record<(typeof FILTERS)[number], string>;

/** What a queue URL (?view=&sort=&status=...) asks of GET /tickets, and its cache key. */
export function queueRequest(params: Pick<URLSearchParams, "get">) {
  const view = parseView(params.get("view"));
  const requested = params.get("sort") ?? "";
  const sort = ((SORTS as readonly string[]).includes(requested) ? requested : "-updated") as NonNullable<
    TicketQuery["sort"]
  >;
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ""])) as QueueFilters;
  const query: TicketQuery = { ...viewQuery(view), sort, limit: PAGE_SIZE };
  if (filters.status) query.status = [filters.status as TicketStatus];
  if (filters.priority) query.priority = [filters.priority as NonNullable<TicketQuery["priority"]>[number]];
  if (filters.team) query.team = filters.team;
  if (filters.category) query.category = Number(filters.category);
  if (filters.q) query.q = filters.q;
  return { view, sort, filters, query, key: `queue:${JSON.stringify(query)}` };
}

/** Opened straight at /tickets: ask for the rows while the session check is still running. */
export function prefetchQueue(pathname: string, search: string): void {
  if (pathname !== "/tickets") return;
  const { key, query } = queueRequest(new URLSearchParams(search));
  prefetch(key, () => loadQueuePage(query));
}

export function loadQueuePage(query: TicketQuery) {
  return unwrap(api().GET("/api/v1/tickets", { params: { query } }));
}

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
