import type { Metadata } from "next";
import { InboundAdmin } from "./inbound-admin";

export const metadata: Metadata = { title: "수신 메일 · Inbound mail" };

export default function Page() {
  return <InboundAdmin />;
}
