import type { Metadata } from "next";
import { RequestDetail } from "./request-detail";

export const metadata: Metadata = { title: "요청 · Request" };

export default async function RequestPage({ params }: PageProps<"/requests/[id]">) {
  const { id } = await params;
  return <RequestDetail ticketId={Number(id)} />;
}
