/**
 * What the mail pipeline says in English (quarantine reasons, step names, the trust record's
 * rules and ignored headers), read into the portal's messages. The API keeps its text in English
 * for logs and search; the portal shows a translation and keeps the original beside it.
 */
import type { MailTrust } from "./api/types";
import type { MessageKey } from "./i18n/ko";

export const TRUST_LEVELS: readonly MailTrust[] = ["token", "verified", "unverified", "failed"];

export function isTrustLevel(value: unknown): value is MailTrust {
  return typeof value === "string" && (TRUST_LEVELS as readonly string[]).includes(value);
}

/** A pattern, the message it becomes, and the names of its capture groups (message variables). */
type Rule = readonly [RegExp, MessageKey, ...string[]];

export interface Explained {
  key: MessageKey;
  vars: Record<string, string>;
}

function explain(text: string | null | undefined, rules: readonly Rule[]): Explained | null {
  if (!text) return null;
  for (const [pattern, key, ...names] of rules) {
    const match = pattern.exec(text);
    if (match) return { key, vars: Object.fromEntries(names.map((name, i) => [name, match[i + 1] ?? ""])) };
  }
  return null;
}

/** core/inbound/pipeline.py, service.py: why a mail was quarantined or ignored. */
const REASONS: readonly Rule[] = [
  [/^possible hijack:/, "mailReason.hijack"],
  [/^unverified staff sender:/, "mailReason.unverifiedStaff"],
  [/^possible spoof, subject tag only:/, "mailReason.subjectTagOnly"],
  [/^reply address issued to agent /, "mailReason.agentToken"],
  [/^internal-note address used by /, "mailReason.noteAddress"],
  [/^DMARC fail for /, "mailReason.dmarcFail"],
  [/^flood: more than /, "mailReason.flood"],
  [/^rate limit: more than /, "mailReason.rateLimit"],
  [/^no sender address/, "mailReason.noSender"],
  [/^sender address .* is not a valid address$/, "mailReason.invalidSender"],
  [/^sender .* is a deactivated user$/, "mailReason.deactivated"],
  [/^the raw message was purged/, "mailReason.purged"],
  [/^processing stopped \d+ times without finishing/, "mailReason.stuck"],
  [/^failed \d+ times; last error:/, "mailReason.failedAttempts"],
  [/^attempt \d+ failed:/, "mailReason.attemptFailed"],
  [/^(?:our own mail came back|mail from our own address)/, "mailReason.ownMail"],
  [/^delivery delay notice/, "mailReason.delay"],
  [/^bounce \(/, "mailReason.bounce"],
  [/^duplicate/, "mailReason.duplicate"],
  [/^auto-reply \(.*\) to ticket #\d+, closed more than/, "mailReason.autoReplyClosed"],
];

export function explainReason(reason: string | null | undefined): Explained | null {
  return explain(reason, REASONS);
}

/** `_judge_standing` in core/inbound/pipeline.py: the rule that let the mail speak. */
const STANDINGS: readonly Rule[] = [
  [/^agent's own reply token$/, "standing.agentToken"],
  [/^verified agent \((.*)\) in a known thread$/, "standing.verifiedAgentThread", "by"],
  [/^verified agent \((.*)\) opening a ticket$/, "standing.verifiedAgentNew", "by"],
  [/^released by an admin as a plain comment$/, "standing.releasedPlain"],
  [/^released by an admin$/, "standing.released"],
  [/^token$/, "trust.level.token"],
  [/^verified$/, "trust.level.verified"],
  [/^unverified$/, "trust.level.unverified"],
  [/^failed$/, "trust.level.failed"],
];

export function explainStanding(standing: string | null | undefined): Explained | null {
  return explain(standing, STANDINGS);
}

/** core/mail/trust.py: Authentication-Results headers set aside as forged or unreadable. */
const IGNORED: readonly Rule[] = [
  [/^more than (\d+) headers; the rest unread$/, "arIgnored.tooMany", "count"],
  [/^unparsable header claiming (\S+):/, "arIgnored.unparsable", "id"],
  [/^(\S+) header from a peer that is not a trusted relay$/, "arIgnored.untrustedPeer", "id"],
  [/^(\S+) header below the relay's Received line \(forged\)$/, "arIgnored.belowRelay", "id"],
  [/^(\S+) (\S+) result below the relay's own \(forged\)$/, "arIgnored.repeated", "id", "method"],
];

export function explainIgnored(text: string): Explained | null {
  return explain(text, IGNORED);
}

/** core/mail/parse.py and charsets.py: what the parser guessed or mended (parse_result.defects). */
const DEFECTS: readonly Rule[] = [
  [/8-bit header decoded as (\S+) \(declared in the message\)/, "parseNote.headerDeclared", "charset"],
  [/8-bit header decoded as (\S+) \((.*), whole mail\)/, "parseNote.headerGuessed", "charset", "how"],
  [/no charset declared; decoded as (\S+) \((.*)\)/, "parseNote.guessed", "charset", "how"],
  [/^header continuation without indentation: (.*)$/, "parseNote.continuation", "line"],
  [/^(\d+) line\(s\) before the first header dropped: (.*)$/, "parseNote.leadingLines", "count", "line"],
  [/^address repaired: (.*) -> (.*)$/, "parseNote.addressRepaired", "from", "to"],
  [/^From has (\d+) addresses; the first is the sender \(also: (.*)\)$/, "parseNote.manyFrom", "count", "others"],
  [/bytes not valid in declared charset '([^']*)'/, "parseNote.invalidBytes", "charset"],
  [/unknown charset '([^']*)'/, "parseNote.unknownCharset", "charset"],
];

export function explainDefect(text: string): Explained | null {
  return explain(text, DEFECTS);
}

/** parse_result.defects: a list of strings, or nothing. */
export function parseDefects(parseResult: unknown): string[] {
  const defects = (parseResult as { defects?: unknown } | null)?.defects;
  return Array.isArray(defects) ? defects.filter((d): d is string => typeof d === "string") : [];
}

/** The names `ctx.record(...)` gives the pipeline's steps (core/inbound/pipeline.py). */
const STEPS = [
  "parse",
  "loop",
  "bounce",
  "dedupe",
  "auto_reply",
  "sender",
  "authenticate",
  "thread",
  "standing",
  "closed",
  "content",
  "limits",
  "deliver",
  "acknowledgement",
  "attachments",
  "participants",
  "verdict",
] as const;
type StepName = (typeof STEPS)[number];

export function stepKey(step: string): MessageKey | null {
  return (STEPS as readonly string[]).includes(step) ? (`mailStep.${step as StepName}` as const) : null;
}

export interface AuthResult {
  method: string;
  result: string;
  domain: string | null;
  aligned: boolean;
  policy: string | null;
}

/** InboundDetail.trust: a free-form object in the OpenAPI document, read here field by field. */
export interface TrustRecord {
  level: MailTrust | null;
  standing: string | null;
  peer: string | null;
  peerTrusted: boolean | null;
  envelopeFrom: string | null;
  headerFrom: string | null;
  sender: string[];
  replyTo: string[];
  envelopeMismatch: boolean;
  results: AuthResult[];
  ignored: string[];
  verifiedBy: string | null;
  failedBy: string | null;
  dmarcPolicy: string | null;
  tokenOwner: string | null;
  tokenBound: boolean | null;
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export function readTrust(raw: unknown): TrustRecord | null {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  const results = Array.isArray(r.results) ? r.results : [];
  return {
    level: isTrustLevel(r.level) ? r.level : null,
    standing: str(r.standing),
    peer: str(r.peer),
    peerTrusted: bool(r.peer_trusted),
    envelopeFrom: typeof r.envelope_from === "string" ? r.envelope_from : null,
    headerFrom: str(r.header_from),
    sender: strings(r.sender),
    replyTo: strings(r.reply_to),
    envelopeMismatch: r.envelope_mismatch === true,
    results: results
      .filter((x): x is Record<string, unknown> => !!x && typeof x === "object")
      .map((x) => ({
        method: String(x.method ?? ""),
        result: String(x.result ?? ""),
        domain: str(x.domain),
        aligned: x.aligned === true,
        policy: str(x.policy),
      })),
    ignored: strings(r.ignored),
    verifiedBy: str(r.verified_by),
    failedBy: str(r.failed_by),
    dmarcPolicy: str(r.dmarc_policy),
    tokenOwner: str(r.token_owner),
    tokenBound: bool(r.token_bound),
  };
}
