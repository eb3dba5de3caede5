import type { Metadata } from "next";
import { MyRequests } from "./my-requests";

export const metadata: Metadata = { title: "내 요청 · My requests" };

export default function MyRequestsPage() {
  return <MyRequests />;
}
