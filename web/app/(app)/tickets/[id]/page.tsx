import type { Metadata } from "next";
import { TicketWorkspace } from "./ticket-workspace";

export const metadata: Metadata = { title: "티켓 · Ticket" };

export default async function TicketPage({ params }: PageProps<"/tickets/[id]">) {
  const { id } = await params;
  return <TicketWorkspace ticketId={Number(id)} />;
}
