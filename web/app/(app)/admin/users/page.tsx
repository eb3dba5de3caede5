import type { Metadata } from "next";
import { UsersAdmin } from "./users-admin";

export const metadata: Metadata = { title: "사용자 · Users" };

export default function Page() {
  return <UsersAdmin />;
}
