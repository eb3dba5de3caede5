"use client";

import type { ReactNode } from "react";
import { TrustBadge, useExplained } from "@/components/mail-trust";
import { Badge, Card } from "@/components/ui";
import { useI18n } from "@/lib/i18n";
import { explainIgnored, explainStanding, readTrust } from "@/lib/mail-trust";

function resultTone(result: string) {
  if (result === "pass") return "green" as const;
  if (result === "fail" || result === "permerror") return "red" as const;
  if (result === "softfail" || result === "temperror") return "amber" as const;
  return "slate" as const;
}

function Row({ label, children, testId }: { label: ReactNode; children: ReactNode; testId?: string }) {
  return (
    <>
      <dt className="text-slate-600">{label}</dt>
      <dd className="min-w-0 break-words" data-testid={testId}>
        {children}
      </dd>
    </>
  );
}

function Addresses({ list }: { list: (string | null)[] }) {
  const shown = list.filter((a): a is string => !!a);
  return <span className="font-mono text-xs">{shown.length ? shown.join(", ") : "—"}</span>;
}

/** InboundDetail.trust: who connected, who the mail claims to be, what the relay proved, and
 * which rule let it speak (core/mail/trust.py, `_judge_standing` in core/inbound/pipeline.py). */
export function SenderTrust({ trust: raw }: { trust: unknown }) {
  const { t } = useI18n();
  const explained = useExplained();
  const trust = readTrust(raw);
  return (
    <Card className="p-4">
      <div data-testid="trust-section">
        <h2 className="mb-2 flex items-center gap-2 text-sm font-semibold text-slate-700">
          {t("trust.title")}
          {trust?.level && <TrustBadge level={trust.level} />}
        </h2>
        {!trust ? (
          <p className="text-sm text-slate-700">{t("trust.none")}</p>
        ) : (
          <>
            <dl className="grid grid-cols-[10rem_1fr] gap-x-3 gap-y-1.5 text-sm">
              <Row label={t("trust.levelReached")} testId="trust-level">
                {trust.level ? (
                  <span className="flex flex-wrap items-center gap-2">
                    <TrustBadge level={trust.level} />
                    <span className="text-xs text-slate-700">{t(`trust.hint.${trust.level}`)}</span>
                  </span>
                ) : (
                  "—"
                )}
              </Row>
              <Row label={t("trust.standing")} testId="trust-standing">
                {trust.standing ? (
                  <span title={trust.standing}>{explained(explainStanding(trust.standing), trust.standing)}</span>
                ) : (
                  t("trust.standingNone")
                )}
              </Row>
              <Row label={t("trust.peer")} testId="trust-peer">
                <span className="flex flex-wrap items-center gap-2">
                  <span className="font-mono text-xs">{trust.peer ?? "—"}</span>
                  {trust.peerTrusted !== null && (
                    <Badge tone={trust.peerTrusted ? "green" : "slate"}>
                      {trust.peerTrusted ? t("trust.peerTrusted") : t("trust.peerUntrusted")}
                    </Badge>
                  )}
                </span>
              </Row>
              <Row label={`${t("trust.envelopeFrom")} (MAIL FROM)`} testId="trust-envelope">
                <span className="flex flex-wrap items-center gap-2">
                  <span className="font-mono text-xs">{trust.envelopeFrom || "<>"}</span>
                  {trust.envelopeMismatch && <Badge tone="amber">{t("trust.envelopeMismatch")}</Badge>}
                </span>
              </Row>
              <Row label="From" testId="trust-from">
                <Addresses list={[trust.headerFrom]} />
              </Row>
              <Row label="Sender">
                <Addresses list={trust.sender} />
              </Row>
              <Row label="Reply-To">
                <Addresses list={trust.replyTo} />
              </Row>
              {trust.verifiedBy && (
                <Row label={t("trust.verifiedBy")}>
                  <span className="font-mono text-xs">{trust.verifiedBy}</span>
                </Row>
              )}
              {trust.failedBy && (
                <Row label={t("trust.failedBy")}>
                  <span className="font-mono text-xs">
                    {trust.failedBy}=fail{trust.dmarcPolicy ? ` (${t("trust.dmarcPolicy")} p=${trust.dmarcPolicy})` : ""}
                  </span>
                </Row>
              )}
              {trust.tokenOwner && (
                <Row label={t("trust.tokenOwner")} testId="trust-token">
                  <span className="flex flex-wrap items-center gap-2">
                    <span className="font-mono text-xs">{trust.tokenOwner}</span>
                    {trust.tokenBound !== null && (
                      <Badge tone={trust.tokenBound ? "green" : "amber"}>
                        {trust.tokenBound ? t("trust.tokenBound") : t("trust.tokenUnbound")}
                      </Badge>
                    )}
                  </span>
                </Row>
              )}
            </dl>

            <h3 className="mb-1 mt-4 text-xs font-semibold text-slate-700">{t("trust.results")}</h3>
            {trust.results.length === 0 ? (
              <p className="text-sm text-slate-700" data-testid="trust-results-empty">
                {t("trust.resultsEmpty")}
              </p>
            ) : (
              <table className="text-sm" data-testid="trust-results">
                <thead className="text-left text-xs text-slate-600">
                  <tr>
                    <th className="py-1 pr-4 font-medium">{t("trust.method")}</th>
                    <th className="py-1 pr-4 font-medium">{t("trust.result")}</th>
                    <th className="py-1 pr-4 font-medium">{t("trust.domain")}</th>
                    <th className="py-1 pr-4 font-medium">{t("trust.aligned")}</th>
                    <th className="py-1 pr-4 font-medium">{t("trust.policy")}</th>
                  </tr>
                </thead>
                <tbody>
                  {trust.results.map((r, i) => (
                    <tr key={`${r.method}-${i}`} data-testid="trust-result">
                      <td className="py-0.5 pr-4 font-mono text-xs">{r.method}</td>
                      <td className="py-0.5 pr-4">
                        <Badge tone={resultTone(r.result)}>{r.result}</Badge>
                      </td>
                      <td className="py-0.5 pr-4 font-mono text-xs">{r.domain ?? "—"}</td>
                      <td className="py-0.5 pr-4 text-xs">{r.aligned ? t("common.yes") : t("common.no")}</td>
                      <td className="py-0.5 pr-4 font-mono text-xs">{r.policy ?? "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}

            {trust.ignored.length > 0 && (
              <>
                <h3 className="mb-1 mt-4 text-xs font-semibold text-slate-700">{t("trust.ignored")}</h3>
                <ul className="space-y-1 rounded border border-amber-200 bg-amber-50 p-2 text-xs text-amber-900" data-testid="trust-ignored">
                  {trust.ignored.map((text, i) => (
                    <li key={i} title={text}>
                      {explained(explainIgnored(text), text)}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </>
        )}
      </div>
    </Card>
  );
}
