import type { Metadata } from "next";
import { JobRunDetail } from "./job-run-detail";

export const metadata: Metadata = { title: "실행 로그 · Run log" };

export default async function Page({ params }: PageProps<"/admin/jobs/runs/[runId]">) {
  const { runId } = await params;
  return <JobRunDetail runId={Number(runId)} />;
}
