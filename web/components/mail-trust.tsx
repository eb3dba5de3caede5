"use client";

import type { MailTrust } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { explainReason, isTrustLevel, type Explained } from "@/lib/mail-trust";
import { Badge, type Tone } from "./ui";

const TRUST_TONES: Record<MailTrust, Tone> = {
  token: "green",
  verified: "blue",
  unverified: "amber",
  failed: "red",
};

/** What could be proven about a mail's sender (a comment's `mail_trust`, an inbound row's level). */
export function TrustBadge({ level }: { level: string | null | undefined }) {
  const { t } = useI18n();
  if (!isTrustLevel(level)) return null;
  return (
    <span title={t(`trust.hint.${level}`)} data-testid="trust-badge" data-trust={level}>
      <Badge tone={TRUST_TONES[level]}>{t(`trust.level.${level}`)}</Badge>
    </span>
  );
}

export function useExplained() {
  const { t } = useI18n();
  return (explained: Explained | null, original: string) => (explained ? t(explained.key, explained.vars) : original);
}

/** A pipeline reason in the UI's language; the original (addresses, limits) stays reachable. */
export function MailReason({ reason, full = false }: { reason: string; full?: boolean }) {
  const text = useExplained()(explainReason(reason), reason);
  if (!full) return <span title={reason}>{text}</span>;
  return (
    <>
      <span className="font-medium">{text}</span>
      {text !== reason && <span className="mt-0.5 block break-words font-mono text-xs text-slate-700">{reason}</span>}
    </>
  );
}
