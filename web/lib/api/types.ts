/**
 * The shapes the portal works with. Each one is taken from the generated schema (schema.d.ts) as
 * soon as the API publishes a schema of that name; until then the contract's shape below stands in,
 * so pages can be built before their endpoint lands and switch to the real type by regenerating.
 */
import type { components } from "./schema";

type Schemas = components extends { schemas: infer S } ? S : never;
type FromSchema<Name extends string, Fallback> = [Schemas] extends [never]
  ? Fallback
  : Name extends keyof Schemas
    ? Schemas[Name]
    : Fallback;

export type Role = "requester" | "agent" | "admin";
export type Locale = "ko" | "en";
export type TicketStatus = "new" | "open" | "pending" | "resolved" | "closed";
export type TicketPriority = "low" | "normal" | "high" | "urgent";
export type SlaState = "ok" | "at_risk" | "breached" | "paused" | "none";

export interface ApiErrorBody {
  error: string;
  detail?: unknown;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type User = FromSchema<
  "UserOut",
  {
    id: number;
    email: string;
    name: string;
    role: Role;
    locale: Locale;
    active: boolean;
    department: string | null;
    phone: string | null;
    external_id: string | null;
    mis_synced_at: string | null;
    team_ids: number[];
  }
>;

export interface PersonRef {
  id: number;
  name: string;
  email?: string;
  role?: Role;
}

export type Attachment = FromSchema<
  "AttachmentOut",
  {
    id: number;
    filename: string;
    content_type: string;
    size: number;
    sha256: string | null;
    is_inline: boolean;
    content_id: string | null;
    download_url: string;
  }
>;

export type TicketSummary = FromSchema<
  "TicketSummary",
  {
    id: number;
    number: number;
    subject: string;
    status: TicketStatus;
    priority: TicketPriority;
    channel: "email" | "web";
    requester: { id: number; name: string; email: string };
    assignee: { id: number; name: string } | null;
    team: { id: number; name: string } | null;
    category_id: number | null;
    created_at: string;
    updated_at: string;
    first_response_due_at: string | null;
    resolution_due_at: string | null;
    sla_state: SlaState;
    attachment_count: number;
    comment_count: number;
  }
>;

export interface TicketSla {
  policy: { id: number; name: string } | string | null;
  first_response_due_at: string | null;
  resolution_due_at: string | null;
  paused: boolean;
  breached?: boolean;
  first_response_breached_at?: string | null;
  resolution_breached_at?: string | null;
}

export type TicketDetail = FromSchema<
  "TicketDetailOut",
  TicketSummary & {
    participants: PersonRef[];
    merged_into_id: number | null;
    first_response_at: string | null;
    resolved_at: string | null;
    closed_at: string | null;
    sla: TicketSla | null;
    attachments: Attachment[];
  }
>;

export type Comment = FromSchema<
  "CommentOut",
  {
    id: number;
    author: { id: number; name: string; role: Role } | null;
    visibility: "public" | "internal";
    source: "email" | "web" | "system";
    body_text: string;
    body_html: string | null;
    quote_start: number | null;
    created_at: string;
    attachments: Attachment[];
  }
>;

export type TicketEvent = FromSchema<
  "TicketEventOut",
  {
    id: number;
    kind: string;
    actor: { id: number; name: string } | null;
    data: Record<string, unknown>;
    created_at: string;
  }
>;

export type TicketCounts = FromSchema<
  "CountsOut",
  { unassigned: number; mine: number; my_team: number; open: number; at_risk: number; breached: number }
>;

export type UploadTicket = FromSchema<
  "UploadOut",
  {
    attachment_id: number;
    upload_url: string;
    method: string;
    headers: Record<string, string>;
    expires_at: string;
  }
>;

export type Team = FromSchema<
  "TeamOut",
  { id: number; name: string; email: string | null; lead_id: number | null; member_ids?: number[] }
>;

export type Category = FromSchema<
  "CategoryOut",
  { id: number; name: string; name_en: string | null; default_team_id: number | null; active: boolean }
>;

export type CannedResponse = FromSchema<
  "CannedOut",
  { id: number; title: string; body: string; team_id?: number | null }
>;

export type SlaPolicy = FromSchema<
  "SlaPolicy",
  {
    id: number;
    name: string;
    priority: TicketPriority | null;
    team_id: number | null;
    category_id: number | null;
    calendar_id: number | null;
    first_response_minutes: number;
    resolution_minutes: number;
    reminder_percent: number;
    escalate_priority: boolean;
    notify_team_lead: boolean;
    active: boolean;
  }
>;

export type BusinessCalendar = FromSchema<
  "BusinessCalendar",
  {
    id: number;
    name: string;
    timezone: string;
    weekly_hours: Record<string, unknown>;
    use_kr_holidays: boolean;
  }
>;

export type Holiday = FromSchema<"Holiday", { id: number; calendar_id: number; day: string; name: string }>;

export type InboundStatus = "received" | "processing" | "processed" | "quarantined" | "ignored" | "failed";

export type InboundSummary = FromSchema<
  "InboundSummary",
  {
    id: number;
    received_at: string;
    mail_from: string;
    rcpt_to: string[];
    from_address: string | null;
    subject: string | null;
    status: InboundStatus;
    reason: string | null;
    attempts: number;
    raw_size: number;
    ticket_id: number | null;
  }
>;

export type InboundDetail = FromSchema<
  "InboundDetail",
  InboundSummary & {
    peer: string | null;
    helo: string | null;
    message_id: string | null;
    headers: [string, string][] | Record<string, string> | null;
    parse_result: Record<string, unknown> | null;
    processed_at: string | null;
    raw_available?: boolean;
    ticket: { id: number; number: number; subject: string } | null;
  }
>;

export type OutboundEmail = FromSchema<
  "OutboundEmailSummary",
  {
    id: number;
    created_at: string;
    kind: string;
    ticket_id: number | null;
    recipient: string;
    subject: string;
    status: "queued" | "sending" | "sent" | "failed" | "suppressed";
    attempts: number;
    last_error: string | null;
    sent_at: string | null;
  }
>;

export type Job = FromSchema<
  "Job",
  {
    id: string;
    name: string;
    schedule: string;
    next_run_at: string | null;
    last_status: string | null;
    last_run_at: string | null;
  }
>;

export type JobRun = FromSchema<
  "JobRun",
  {
    id: number;
    job_id: string;
    trigger: string;
    started_at: string;
    finished_at: string | null;
    duration_ms: number | null;
    status: "running" | "succeeded" | "failed" | "skipped";
    summary: Record<string, unknown>;
    log?: string;
    error: string | null;
    host?: string | null;
  }
>;

export type Notification = FromSchema<
  "NotificationOut",
  {
    id: number;
    ticket_id: number | null;
    kind: string;
    title: string;
    body: string;
    data: Record<string, unknown>;
    read_at: string | null;
    created_at: string;
  }
>;
