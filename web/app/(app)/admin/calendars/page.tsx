import type { Metadata } from "next";
import { CalendarsAdmin } from "./calendars-admin";

export const metadata: Metadata = { title: "업무 달력 · Calendars" };

export default function Page() {
  return <CalendarsAdmin />;
}
