"use client";

import Link from "next/link";
import { useEffect } from "react";
import { JobStatusBadge } from "@/components/admin/job-status";
import { Card, ErrorNotice, PageHeader, Skeleton } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import { useI18n, type MessageKey } from "@/lib/i18n";
import { useQuery } from "@/lib/query";

export function JobRunDetail({ runId }: { runId: number }) {
  const { t, formatDateTime } = useI18n();
  const run = useQuery(`run-${runId}`, () =>
    unwrap(api().GET("/api/v1/admin/job-runs/{run_id}", { params: { path: { run_id: runId } } })),
  );
  // Queued until the scheduler picks it up, then running: follow it until it finishes.
  const running = run.data?.status === "running" || run.data?.status === "queued";
  const refetch = run.refetch;
  useEffect(() => {
    if (!running) return;
    const id = setInterval(() => void refetch(), 1500);
    return () => clearInterval(id);
  }, [running, refetch]);

  if (run.error) return <ErrorNotice error={run.error} onRetry={() => void run.refetch()} />;
  if (!run.data) return <Skeleton />;
  const r = run.data;
  return (
    <div className="space-y-4">
      <Link href={`/admin/jobs/${encodeURIComponent(r.job_id)}`} className="text-sm text-slate-500 hover:text-slate-800">
        ← {t("jobs.runs")} · <span className="font-mono">{r.job_id}</span>
      </Link>
      <PageHeader title={t("jobs.run", { id: r.id })} actions={<JobStatusBadge status={r.status} />} />
      <Card className="p-4">
        <dl className="grid grid-cols-[8rem_1fr] gap-y-1 text-sm" data-testid="run-meta">
          <dt className="text-slate-500">{t("jobs.trigger")}</dt>
          <dd>
            {t(`jobTrigger.${r.trigger}` as MessageKey)} <span className="font-mono text-xs text-slate-400">{r.trigger}</span>
          </dd>
          <dt className="text-slate-500">{t("jobs.startedAt")}</dt>
          <dd>{formatDateTime(r.started_at)}</dd>
          <dt className="text-slate-500">{t("jobs.duration")}</dt>
          <dd>{r.duration_ms != null ? `${r.duration_ms} ms` : "—"}</dd>
          {r.host && (
            <>
              <dt className="text-slate-500">{t("jobs.host")}</dt>
              <dd className="font-mono text-xs">{r.host}</dd>
            </>
          )}
          <dt className="text-slate-500">{t("jobs.summary")}</dt>
          <dd>
            <pre className="whitespace-pre-wrap font-mono text-xs">{JSON.stringify(r.summary ?? {}, null, 2)}</pre>
          </dd>
        </dl>
      </Card>
      {r.error && (
        <Card className="border-red-200 p-4">
          <h2 className="mb-2 text-sm font-semibold text-red-700">{t("jobs.error")}</h2>
          <pre className="overflow-x-auto whitespace-pre-wrap font-mono text-xs text-red-800">{r.error}</pre>
        </Card>
      )}
      <Card className="p-4">
        <h2 className="mb-2 text-sm font-semibold text-slate-700">{t("jobs.log")}</h2>
        {r.log ? (
          <pre className="max-h-[60vh] overflow-auto rounded bg-slate-900 p-3 font-mono text-xs leading-relaxed text-slate-100" data-testid="run-log">
            {r.log}
          </pre>
        ) : (
          <p className="text-sm text-slate-500">{t("jobs.logEmpty")}</p>
        )}
      </Card>
    </div>
  );
}
