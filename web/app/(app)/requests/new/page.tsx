import type { Metadata } from "next";
import { NewRequestForm } from "./new-request-form";

export const metadata: Metadata = { title: "새 요청 · New request" };

export default function NewRequestPage() {
  return <NewRequestForm />;
}
