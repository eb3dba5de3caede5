import type { Metadata } from "next";
import { TeamsAdmin } from "./teams-admin";

export const metadata: Metadata = { title: "팀 · Teams" };

export default function Page() {
  return <TeamsAdmin />;
}
