import type { Metadata } from "next";
import { CannedAdmin } from "./canned-admin";

export const metadata: Metadata = { title: "상용 답변 · Canned responses" };

export default function Page() {
  return <CannedAdmin />;
}
