"use client";

import { Icon } from "@/components/icons";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import { MailReason } from "@/components/mail-trust";
import { useToast } from "@/components/toast";
import { Button, Card, ErrorNotice, Input, PageHeader, Skeleton } from "@/components/ui";
import { api, apiUrl, unwrap } from "@/lib/api/client";
import type { ReleaseMode } from "@/lib/api/types";
import { formatBytes, useI18n } from "@/lib/i18n";
import { explainDefect, parseDefects, stepKey } from "@/lib/mail-trust";
import { useQuery } from "@/lib/query";
import { InboundStatusBadge, RELEASE_MODES } from "../inbound-admin";
import { SenderTrust } from "./sender-trust";

function headerPairs(headers: unknown): [string, string][] {
  if (!headers || typeof headers !== "object") return [];
  if (Array.isArray(headers)) {
    return headers.map((h) =>
      Array.isArray(h) ? [String(h[0]), String(h[1])] : [String((h as { name?: unknown }).name), String((h as { value?: unknown }).value)],
    );
  }
  return Object.entries(headers as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]);
}

/** parse_result.steps: `{step, result, ...details}` as core/inbound/pipeline.py records them. */
function pipelineSteps(parseResult: unknown): { step: string; result: string }[] {
  const steps = (parseResult as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return [];
  return steps
    .filter((s): s is Record<string, unknown> => !!s && typeof s === "object")
    .map((s) => {
      const result = String(s.result ?? "");
      const reason = typeof s.reason === "string" ? s.reason : "";
      return { step: String(s.step ?? ""), result: reason ? `${result}: ${reason}` : result };
    });
}

export function InboundDetailView({ inboundId }: { inboundId: number }) {
  const { t, formatDateTime } = useI18n();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const [ticketId, setTicketId] = useState("");
  const [requester, setRequester] = useState("");
  const [mode, setMode] = useState<ReleaseMode>("as_claimed");
  const path = { params: { path: { message_id: inboundId } } };
  const msg = useQuery(`inbound-${inboundId}`, () => unwrap(api().GET("/api/v1/admin/inbound/{message_id}", path)));

  async function act(action: "reprocess" | "discard" | "release", e?: FormEvent) {
    e?.preventDefault();
    setBusy(true);
    try {
      if (action === "release") {
        await unwrap(
          api().POST("/api/v1/admin/inbound/{message_id}/release", {
            ...path,
            body: {
              ticket_id: ticketId.trim() ? Number(ticketId) : null,
              mode,
              requester_email: requester.trim() || null,
            },
          }),
        );
      } else if (action === "reprocess") {
        await unwrap(api().POST("/api/v1/admin/inbound/{message_id}/reprocess", path));
      } else {
        await unwrap(api().POST("/api/v1/admin/inbound/{message_id}/discard", path));
      }
      toast(t("mail.actionDone"));
      await msg.refetch();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    } finally {
      setBusy(false);
    }
  }

  if (msg.error) return <ErrorNotice error={msg.error} onRetry={() => void msg.refetch()} />;
  if (!msg.data) return <Skeleton lines={8} />;
  const m = msg.data;
  // What core/inbound/maillog.py accepts: release() and discard() answer 409 otherwise.
  const releasable = m.status === "quarantined" || m.status === "ignored";
  const discardable = m.status === "quarantined" || m.status === "received" || m.status === "failed";
  const steps = pipelineSteps(m.parse_result);
  const notes = parseDefects(m.parse_result);
  return (
    <div className="space-y-4">
      <Link href="/admin/mail" className="text-sm text-slate-500 hover:text-slate-800">
        ← {t("admin.mail")}
      </Link>
      <PageHeader title={m.subject || "(no subject)"} actions={<InboundStatusBadge status={m.status} />}>
        {m.reason && (
          <p className="mt-1 text-sm text-amber-800" data-testid="inbound-reason">
            {t("mail.reason")}: <MailReason reason={m.reason} full />
          </p>
        )}
      </PageHeader>

      <Card className="flex flex-wrap items-end gap-3 p-4">
        <form onSubmit={(e) => void act("release", e)} className="flex flex-wrap items-end gap-3">
          <fieldset className="text-sm" data-testid="release-mode">
            <legend className="mb-1 text-slate-700">{t("mail.releaseMode")}</legend>
            <div className="flex flex-wrap gap-3">
              {RELEASE_MODES.map((value) => (
                <label key={value} className="flex items-center gap-1.5" title={t(`mail.modeHint.${value}`)}>
                  <input
                    type="radio"
                    name="release-mode"
                    value={value}
                    checked={mode === value}
                    onChange={() => setMode(value)}
                    data-testid={`release-mode-${value}`}
                  />
                  {t(`mail.mode.${value}`)}
                </label>
              ))}
            </div>
            <p className="mt-1 max-w-md text-xs text-slate-700">{t(`mail.modeHint.${mode}`)}</p>
          </fieldset>
          <label className="text-sm">
            <span className="mb-1 block text-slate-700">{t("mail.releaseTo")}</span>
            <Input inputMode="numeric" pattern="[0-9]*" value={ticketId} onChange={(e) => setTicketId(e.target.value)} className="w-40 py-1.5" data-testid="release-ticket" />
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-slate-700">{t("mail.releaseRequester")}</span>
            <Input type="email" value={requester} onChange={(e) => setRequester(e.target.value)} className="w-56 py-1.5" data-testid="release-requester" />
          </label>
          <Button type="submit" variant="primary" disabled={busy || !releasable} data-testid="release">
            {t("mail.release")}
          </Button>
        </form>
        <Button onClick={() => void act("reprocess")} disabled={busy || m.status === "processing"} data-testid="reprocess">
          {t("mail.reprocess")}
        </Button>
        <Button variant="danger" onClick={() => window.confirm(t("common.confirmDelete")) && void act("discard")} disabled={busy || !discardable} data-testid="discard">
          {t("mail.discard")}
        </Button>
        <a href={apiUrl(`/api/v1/admin/inbound/${m.id}/raw`)} className="ml-auto text-sm text-brand-600 hover:underline" data-testid="raw-download">
          <Icon name="download" className="inline h-4 w-4" /> {t("mail.raw")}
        </a>
      </Card>

      <SenderTrust trust={m.trust} />

      <Card className="p-4">
        <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("mail.envelope")}</h2>
        <dl className="grid grid-cols-[8rem_1fr] gap-y-1 text-sm">
          <dt className="text-slate-500">{t("mail.received")}</dt>
          <dd>{formatDateTime(m.received_at)}</dd>
          <dt className="text-slate-500">MAIL FROM</dt>
          <dd className="font-mono text-xs">{m.mail_from || "<>"}</dd>
          <dt className="text-slate-500">RCPT TO</dt>
          <dd className="font-mono text-xs">{(m.rcpt_to ?? []).join(", ")}</dd>
          <dt className="text-slate-500">{t("mail.peer")}</dt>
          <dd className="font-mono text-xs">
            {m.peer ?? "—"} {m.helo ? `(HELO ${m.helo})` : ""}
          </dd>
          <dt className="text-slate-500">Message-ID</dt>
          <dd className="break-all font-mono text-xs">{m.message_id ?? "—"}</dd>
          <dt className="text-slate-500">{t("mail.size")}</dt>
          <dd>{formatBytes(m.raw_size)}</dd>
          <dt className="text-slate-500">{t("mail.attempts")}</dt>
          <dd>{m.attempts}</dd>
          <dt className="text-slate-500">{t("mail.ticket")}</dt>
          <dd>
            {m.ticket ? (
              <Link href={`/tickets/${m.ticket.id}`} className="text-brand-600 hover:underline">
                #{m.ticket.number}
              </Link>
            ) : m.ticket_id ? (
              <Link href={`/tickets/${m.ticket_id}`} className="text-brand-600 hover:underline">
                {m.ticket_id}
              </Link>
            ) : (
              "—"
            )}
          </dd>
        </dl>
      </Card>

      <Card className="p-4">
        <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("mail.headers")}</h2>
        <div className="max-h-96 overflow-auto">
          <table className="text-xs" data-testid="inbound-headers">
            <tbody>
              {headerPairs(m.headers).map(([k, v], i) => (
                <tr key={`${k}-${i}`} className="align-top">
                  <th scope="row" className="whitespace-nowrap py-0.5 pr-3 text-left font-mono font-medium text-slate-600">
                    {k}
                  </th>
                  <td className="break-all py-0.5 font-mono text-slate-800">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>

      <Card className="p-4">
        {steps.length > 0 && (
          <>
            <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("mail.steps")}</h2>
            <ol className="mb-4 space-y-0.5 text-sm" data-testid="pipeline-steps">
              {steps.map((s, i) => {
                const key = stepKey(s.step);
                return (
                  <li key={i} className="grid grid-cols-[10rem_1fr] gap-x-3" data-step={s.step}>
                    <span className="text-slate-700" title={s.step}>
                      {key ? t(key) : s.step}
                    </span>
                    <span className="break-words font-mono text-xs leading-5 text-slate-800">{s.result}</span>
                  </li>
                );
              })}
            </ol>
          </>
        )}
        {notes.length > 0 && (
          <>
            <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("mail.parseNotes")}</h2>
            <ul className="mb-4 space-y-1 text-sm text-slate-800" data-testid="parse-notes">
              {notes.map((note, i) => {
                const explained = explainDefect(note);
                return (
                  <li key={i} title={note}>
                    {explained ? t(explained.key, explained.vars) : <span className="font-mono text-xs">{note}</span>}
                  </li>
                );
              })}
            </ul>
          </>
        )}
        <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("mail.parseResult")}</h2>
        <pre className="max-h-96 overflow-auto rounded bg-slate-50 p-3 font-mono text-xs" data-testid="parse-result">
          {m.parse_result ? JSON.stringify(m.parse_result, null, 2) : "—"}
        </pre>
      </Card>
    </div>
  );
}
