/**
 * Stand-in path types for endpoints the API has not published yet, written from the HTTP API
 * contract. `Paths` (client.ts) takes every path from the generated schema when it exists, so each
 * entry here stops mattering as soon as `npm run gen:api` sees the real endpoint; delete entries
 * once the schema covers them.
 */
import type * as T from "./types";

type Json<R> = { headers: { [name: string]: unknown }; content: { "application/json": R } };
type Empty = { headers: { [name: string]: unknown }; content?: never };
type Params<Q, P> = { query?: Q; header?: never; cookie?: never } & ([P] extends [never]
  ? { path?: never }
  : { path: P });
type Body<B> = [B] extends [never]
  ? { requestBody?: never }
  : { requestBody: { content: { "application/json": B } } };
type Op<R, Q = never, P = never, B = never, S extends number = 200> = {
  parameters: Params<Q, P>;
} & Body<B> & {
    responses: { [K in S]: [R] extends [void] ? Empty : Json<R> } & { default: Json<T.ApiErrorBody> };
  };

type Id = { [k: string]: number | string };
type TicketId = { ticket_id: number };

export type TicketQuery = {
  status?: string;
  priority?: string;
  assignee?: string;
  team?: number | string;
  requester?: number;
  category?: number;
  q?: string;
  sla?: "breached" | "at_risk";
  created_from?: string;
  created_to?: string;
  updated_from?: string;
  updated_to?: string;
  sort?: string;
  cursor?: string;
  limit?: number;
};

type TicketPatch = Partial<{
  status: T.TicketStatus;
  priority: T.TicketPriority;
  team_id: number | null;
  assignee_id: number | null;
  category_id: number | null;
  subject: string;
}>;

type AuthResult = { access_token: string; token_type: string; user: T.User };

export interface ContractPaths {
  "/api/v1/admin/sla-policies": {
    get: Op<T.SlaPolicy[]>;
    post: Op<T.SlaPolicy, never, never, Partial<T.SlaPolicy>, 201>;
  };
  "/api/v1/admin/sla-policies/{policy_id}": {
    patch: Op<T.SlaPolicy, never, Id, Partial<T.SlaPolicy>>;
    delete: Op<void, never, Id, never, 204>;
  };
  "/api/v1/admin/calendars": {
    get: Op<T.BusinessCalendar[]>;
    post: Op<T.BusinessCalendar, never, never, Partial<T.BusinessCalendar>, 201>;
  };
  "/api/v1/admin/calendars/{calendar_id}": {
    patch: Op<T.BusinessCalendar, never, Id, Partial<T.BusinessCalendar>>;
  };
  "/api/v1/admin/calendars/{calendar_id}/holidays": {
    get: Op<T.Holiday[], never, Id>;
    post: Op<T.Holiday, never, Id, { day: string; name: string }, 201>;
  };
  "/api/v1/admin/calendars/{calendar_id}/holidays/{holiday_id}": {
    delete: Op<void, never, Id, never, 204>;
  };
  "/api/v1/admin/jobs": { get: Op<T.Job[]> };
  "/api/v1/admin/jobs/{job_id}/runs": {
    get: Op<T.Page<T.JobRun>, { status?: string; cursor?: string }, Id>;
  };
  "/api/v1/admin/jobs/{job_id}/run": { post: Op<T.JobRun, never, Id, never, 202> };
  "/api/v1/admin/job-runs/{run_id}": { get: Op<T.JobRun, never, Id> };
}
