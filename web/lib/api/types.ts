/** The shapes the portal works with, named once, all taken from the generated schema. */
import type { components } from "./schema";

type S = components["schemas"];

export type Role = S["UserOut"]["role"];
export type Locale = S["UserOut"]["locale"];
export type TicketStatus = S["TicketStatus"];
export type TicketPriority = S["TicketPriority"];
export type SlaState = S["TicketSummary"]["sla_state"];
export type InboundStatus = S["InboundStatus"];
export type MailTrust = NonNullable<S["CommentOut"]["mail_trust"]>;
export type ReleaseMode = S["ReleaseIn"]["mode"];
export type ApiErrorBody = S["ErrorOut"];

export type User = S["UserOut"];
export type Attachment = S["AttachmentOut"];
export type TicketSummary = S["TicketSummary"];
export type TicketDetail = S["TicketDetailOut"];
export type Comment = S["CommentOut"];
export type TicketEvent = S["TicketEventOut"];
export type TicketCounts = S["CountsOut"];
export type Team = S["TeamOut"];
export type Category = S["CategoryOut"];
export type CannedResponse = S["CannedOut"];
export type SlaPolicy = S["SlaPolicy"];
export type BusinessCalendar = S["BusinessCalendar"];
export type Holiday = S["Holiday"];
export type InboundSummary = S["InboundSummary"];
export type InboundDetail = S["InboundDetail"];
export type BulkReleaseResult = S["BulkReleaseOut"];
export type OutboundEmail = S["OutboundEmailSummary"];
export type Job = S["Job"];
export type JobRun = S["JobRun"];
export type JobRunDetail = S["JobRunDetail"];
export type Notification = S["NotificationOut"];
