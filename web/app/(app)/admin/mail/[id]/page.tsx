import type { Metadata } from "next";
import { InboundDetailView } from "./inbound-detail";

export const metadata: Metadata = { title: "수신 메일 · Inbound mail" };

export default async function Page({ params }: PageProps<"/admin/mail/[id]">) {
  const { id } = await params;
  return <InboundDetailView inboundId={Number(id)} />;
}
