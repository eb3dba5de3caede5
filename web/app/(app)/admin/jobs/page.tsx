import type { Metadata } from "next";
import { JobsAdmin } from "./jobs-admin";

export const metadata: Metadata = { title: "예약 작업 · Jobs" };

export default function Page() {
  return <JobsAdmin />;
}
