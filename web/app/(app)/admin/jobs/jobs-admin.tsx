"use client";

import { Icon } from "@/components/icons";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { JobStatusBadge } from "@/components/admin/job-status";
import { useToast } from "@/components/toast";
import { Button, EmptyState, ErrorNotice, PageHeader, Skeleton } from "@/components/ui";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { Job } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";

export function JobsAdmin() {
  const { t, formatRelative, formatDateTime } = useI18n();
  const toast = useToast();
  const router = useRouter();
  const [starting, setStarting] = useState<string | null>(null);
  const jobs = useQuery("admin-jobs", async () => itemsOf<Job>(await unwrap(api().GET("/api/v1/admin/jobs"))));

  async function runNow(job: Job) {
    setStarting(job.id);
    try {
      const run = await unwrap(api().POST("/api/v1/admin/jobs/{job_id}/run", { params: { path: { job_id: job.id } } }));
      toast(t("jobs.started"));
      if (run && typeof run === "object" && "id" in run && run.id) router.push(`/admin/jobs/runs/${run.id}`);
      else void jobs.refetch();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    } finally {
      setStarting(null);
    }
  }

  return (
    <div>
      <PageHeader title={t("admin.jobs")} />
      {jobs.error ? (
        <ErrorNotice error={jobs.error} onRetry={() => void jobs.refetch()} />
      ) : jobs.data === undefined ? (
        <Skeleton />
      ) : jobs.data.length === 0 ? (
        <EmptyState title={t("jobs.empty")} icon="clock" />
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
          <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="jobs-table">
            <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-3 py-2">{t("common.name")}</th>
                <th className="px-3 py-2">{t("jobs.schedule")}</th>
                <th className="px-3 py-2">{t("jobs.nextRun")}</th>
                <th className="px-3 py-2">{t("jobs.lastRun")}</th>
                <th className="px-3 py-2">{t("jobs.lastStatus")}</th>
                <th className="px-3 py-2 text-right">{t("common.actions")}</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {jobs.data.map((job) => (
                <tr key={job.id} data-testid="job-row" data-job-id={job.id}>
                  <td className="px-3 py-2">
                    <Link href={`/admin/jobs/${encodeURIComponent(job.id)}`} className="font-medium hover:text-brand-700">
                      {job.name || job.id}
                    </Link>
                    <div className="font-mono text-xs text-slate-400">{job.id}</div>
                  </td>
                  <td className="px-3 py-2 font-mono text-xs">{job.schedule}</td>
                  <td className="px-3 py-2 text-xs" title={formatDateTime(job.next_run_at)}>
                    {formatRelative(job.next_run_at)}
                  </td>
                  <td className="px-3 py-2 text-xs" title={formatDateTime(job.last_run_at)}>
                    {formatRelative(job.last_run_at)}
                  </td>
                  <td className="px-3 py-2">
                    <JobStatusBadge status={job.last_status} />
                  </td>
                  <td className="whitespace-nowrap px-3 py-2 text-right">
                    <Link href={`/admin/jobs/${encodeURIComponent(job.id)}`} className="mr-2 text-xs text-brand-600 hover:underline">
                      {t("jobs.runs")}
                    </Link>
                    <Button size="sm" onClick={() => void runNow(job)} disabled={starting === job.id} data-testid="run-now">
                      <Icon name="play" className="h-3.5 w-3.5" /> {t("jobs.runNow")}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
