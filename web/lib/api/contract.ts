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
  "/api/v1/auth/login": { post: Op<AuthResult, never, never, { email: string; password: string }> };
  "/api/v1/auth/logout": { post: Op<void, never, never, never, 204> };
  "/api/v1/auth/magic-link": {
    post: Op<{ detail: string }, never, never, { email: string }, 202>;
  };
  "/api/v1/auth/magic-link/verify": { post: Op<AuthResult, never, never, { token: string }> };
  "/api/v1/auth/me": {
    get: Op<T.User>;
    patch: Op<T.User, never, never, { locale?: T.Locale; name?: string }>;
  };
  "/api/v1/tickets": {
    get: Op<T.Page<T.TicketSummary>, TicketQuery>;
    post: Op<
      T.TicketDetail,
      never,
      never,
      {
        subject: string;
        body: string;
        category_id?: number | null;
        priority?: T.TicketPriority;
        attachment_ids: number[];
      },
      201
    >;
  };
  "/api/v1/tickets/counts": { get: Op<T.TicketCounts> };
  "/api/v1/tickets/bulk": {
    post: Op<
      unknown,
      never,
      never,
      { ticket_ids: number[] } & Partial<{
        status: T.TicketStatus;
        priority: T.TicketPriority;
        assignee_id: number | null;
        team_id: number | null;
      }>
    >;
  };
  "/api/v1/tickets/{ticket_id}": {
    get: Op<T.TicketDetail, never, TicketId>;
    patch: Op<T.TicketDetail, never, TicketId, TicketPatch>;
  };
  "/api/v1/tickets/{ticket_id}/comments": {
    get: Op<T.Comment[], never, TicketId>;
    post: Op<
      T.Comment,
      never,
      TicketId,
      { body: string; visibility: "public" | "internal"; attachment_ids: number[] },
      201
    >;
  };
  "/api/v1/tickets/{ticket_id}/events": { get: Op<T.TicketEvent[], never, TicketId> };
  "/api/v1/tickets/{ticket_id}/participants": {
    post: Op<unknown, never, TicketId, { email: string }>;
  };
  "/api/v1/tickets/{ticket_id}/participants/{user_id}": {
    delete: Op<void, never, { ticket_id: number; user_id: number }, never, 204>;
  };
  "/api/v1/uploads": {
    post: Op<T.UploadTicket, never, never, { filename: string; size: number; content_type: string }>;
  };
  "/api/v1/uploads/{attachment_id}/complete": {
    post: Op<T.Attachment, never, { attachment_id: number }>;
  };
  "/api/v1/users": {
    get: Op<T.User[] | T.Page<T.User>, { role?: string; q?: string; active?: boolean; cursor?: string }>;
    post: Op<T.User, never, never, Partial<T.User> & { email: string; password?: string }, 201>;
  };
  "/api/v1/users/{user_id}": {
    patch: Op<T.User, never, { user_id: number }, Partial<T.User>>;
  };
  "/api/v1/teams": {
    get: Op<T.Team[]>;
    post: Op<T.Team, never, never, { name: string; email?: string | null }, 201>;
  };
  "/api/v1/teams/{team_id}": {
    patch: Op<T.Team, never, { team_id: number }, Partial<T.Team>>;
    delete: Op<void, never, { team_id: number }, never, 204>;
  };
  "/api/v1/teams/{team_id}/members": {
    put: Op<unknown, never, { team_id: number }, { user_ids: number[] }>;
  };
  "/api/v1/categories": {
    get: Op<T.Category[]>;
    post: Op<T.Category, never, never, Partial<T.Category> & { name: string }, 201>;
  };
  "/api/v1/categories/{category_id}": {
    patch: Op<T.Category, never, { category_id: number }, Partial<T.Category>>;
  };
  "/api/v1/canned-responses": {
    get: Op<T.CannedResponse[]>;
    post: Op<T.CannedResponse, never, never, { title: string; body: string }, 201>;
  };
  "/api/v1/canned-responses/{canned_id}": {
    patch: Op<T.CannedResponse, never, Id, Partial<T.CannedResponse>>;
    delete: Op<void, never, Id, never, 204>;
  };
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
  "/api/v1/admin/inbound": {
    get: Op<T.Page<T.InboundSummary>, { status?: string; q?: string; cursor?: string }>;
  };
  "/api/v1/admin/inbound/{inbound_id}": { get: Op<T.InboundDetail, never, Id> };
  "/api/v1/admin/inbound/{inbound_id}/reprocess": { post: Op<unknown, never, Id> };
  "/api/v1/admin/inbound/{inbound_id}/release": {
    post: Op<unknown, never, Id, { ticket_id?: number | null }>;
  };
  "/api/v1/admin/inbound/{inbound_id}/discard": { post: Op<unknown, never, Id> };
  "/api/v1/admin/outbound": {
    get: Op<T.Page<T.OutboundEmail> | T.OutboundEmail[], { status?: string; cursor?: string }>;
  };
  "/api/v1/admin/outbound/{outbound_id}": { get: Op<T.OutboundEmail, never, Id> };
  "/api/v1/admin/outbound/{outbound_id}/retry": { post: Op<unknown, never, Id> };
  "/api/v1/admin/jobs": { get: Op<T.Job[]> };
  "/api/v1/admin/jobs/{job_id}/runs": {
    get: Op<T.Page<T.JobRun>, { status?: string; cursor?: string }, Id>;
  };
  "/api/v1/admin/jobs/{job_id}/run": { post: Op<T.JobRun, never, Id, never, 202> };
  "/api/v1/admin/job-runs/{run_id}": { get: Op<T.JobRun, never, Id> };
  "/api/v1/notifications": {
    get: Op<T.Page<T.Notification>, { unread?: boolean; cursor?: string }>;
  };
  "/api/v1/notifications/unread-count": { get: Op<{ count: number }> };
  "/api/v1/notifications/{notification_id}/read": { post: Op<unknown, never, Id> };
  "/api/v1/notifications/read-all": { post: Op<unknown> };
}
