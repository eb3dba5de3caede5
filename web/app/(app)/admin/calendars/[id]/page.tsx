import type { Metadata } from "next";
import { CalendarHolidays } from "./calendar-holidays";

export const metadata: Metadata = { title: "휴일 · Holidays" };

export default async function Page({ params }: PageProps<"/admin/calendars/[id]">) {
  const { id } = await params;
  return <CalendarHolidays calendarId={Number(id)} />;
}
