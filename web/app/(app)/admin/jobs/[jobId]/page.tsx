import type { Metadata } from "next";
import { JobRuns } from "./job-runs";

export const metadata: Metadata = { title: "실행 기록 · Job runs" };

export default async function Page({ params }: PageProps<"/admin/jobs/[jobId]">) {
  const { jobId } = await params;
  return <JobRuns jobId={decodeURIComponent(jobId)} />;
}
