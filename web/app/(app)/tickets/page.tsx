import type { Metadata } from "next";
import { Queue } from "./queue";

export const metadata: Metadata = { title: "티켓 큐 · Queue" };

export default function QueuePage() {
  return <Queue />;
}
