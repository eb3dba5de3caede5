import type { Metadata } from "next";
import { NotificationsList } from "./notifications-list";

export const metadata: Metadata = { title: "알림 · Notifications" };

export default function Page() {
  return <NotificationsList />;
}
