import type { Metadata } from "next";
import { OutboundAdmin } from "./outbound-admin";

export const metadata: Metadata = { title: "발신 메일 · Outbound mail" };

export default function Page() {
  return <OutboundAdmin />;
}
