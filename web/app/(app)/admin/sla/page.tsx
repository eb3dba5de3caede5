import type { Metadata } from "next";
import { SlaAdmin } from "./sla-admin";

export const metadata: Metadata = { title: "SLA" };

export default function Page() {
  return <SlaAdmin />;
}
