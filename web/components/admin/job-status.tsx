"use client";

import { Badge, type Tone } from "../ui";
import { useI18n, type MessageKey } from "@/lib/i18n";

const TONES: Record<string, Tone> = { running: "blue", succeeded: "green", failed: "red", skipped: "gray", queued: "amber" };

export function JobStatusBadge({ status }: { status: string | null | undefined }) {
  const { t } = useI18n();
  if (!status) return <span className="text-xs text-slate-400">—</span>;
  const key = `jobStatus.${status}` as MessageKey;
  const label = t(key);
  return <Badge tone={TONES[status] ?? "slate"}>{label === key ? status : label}</Badge>;
}
