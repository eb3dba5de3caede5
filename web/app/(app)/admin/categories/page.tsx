import type { Metadata } from "next";
import { CategoriesAdmin } from "./categories-admin";

export const metadata: Metadata = { title: "분류 · Categories" };

export default function Page() {
  return <CategoriesAdmin />;
}
