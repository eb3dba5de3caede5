"use client";

import Link from "next/link";
import { useState } from "react";
import { JobStatusBadge } from "@/components/admin/job-status";
import { EmptyState, ListStates, LoadMore, PageHeader, Select } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import { useI18n, type MessageKey } from "@/lib/i18n";
import { usePaged } from "@/lib/paged";

const RUN_STATUSES = ["queued", "running", "succeeded", "failed", "skipped"] as const;
type RunStatus = (typeof RUN_STATUSES)[number];

export function JobRuns({ jobId }: { jobId: string }) {
  const { t, formatDateTime, formatRelative } = useI18n();
  const [status, setStatus] = useState("");
  const path = { job_id: jobId };
  const list = usePaged(`runs-${jobId}-${status}`, (cursor: string | null) =>
    unwrap(
      api().GET("/api/v1/admin/jobs/{job_id}/runs", {
        params: { path, query: { status: (status || undefined) as RunStatus | undefined, cursor } },
      }),
    ),
  );
  return (
    <div>
      <Link href="/admin/jobs" className="text-sm text-slate-500 hover:text-slate-800">
        ← {t("admin.jobs")}
      </Link>
      <PageHeader
        title={
          <>
            {t("jobs.runs")} <span className="font-mono text-base text-slate-500">{jobId}</span>
          </>
        }
        actions={
          <Select aria-label={t("common.status")} value={status} onChange={(e) => setStatus(e.target.value)} className="w-auto py-1.5">
            <option value="">{t("common.all")}</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`jobStatus.${s}`)}
              </option>
            ))}
          </Select>
        }
      />
      <ListStates items={list.items} error={list.error} onRetry={() => void list.refetch()} empty={<EmptyState title={t("jobs.runsEmpty")} icon="clock" />}>
        {(items) => (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
            <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="runs-table">
              <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="px-3 py-2">#</th>
                  <th className="px-3 py-2">{t("jobs.startedAt")}</th>
                  <th className="px-3 py-2">{t("jobs.trigger")}</th>
                  <th className="px-3 py-2">{t("common.status")}</th>
                  <th className="px-3 py-2">{t("jobs.duration")}</th>
                  <th className="px-3 py-2">{t("jobs.summary")}</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {items.map((run) => (
                  <tr key={run.id} data-testid="run-row">
                    <td className="px-3 py-2">
                      <Link href={`/admin/jobs/runs/${run.id}`} className="font-medium text-brand-700 hover:underline">
                        {run.id}
                      </Link>
                    </td>
                    <td className="px-3 py-2 text-xs" title={formatDateTime(run.started_at)}>
                      {formatRelative(run.started_at)}
                    </td>
                    <td className="px-3 py-2 text-xs">{t(`jobTrigger.${run.trigger}` as MessageKey)}</td>
                    <td className="px-3 py-2">
                      <JobStatusBadge status={run.status} />
                    </td>
                    <td className="px-3 py-2 text-xs tabular-nums">{run.duration_ms != null ? `${run.duration_ms} ms` : "—"}</td>
                    <td className="max-w-md truncate px-3 py-2 font-mono text-xs text-slate-600">
                      {run.error ? <span className="text-red-600">{run.error.split("\n")[0]}</span> : JSON.stringify(run.summary ?? {})}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </ListStates>
      <LoadMore list={list} />
    </div>
  );
}
