import type { Metadata } from "next";
import { MagicVerify } from "./magic-verify";

export const metadata: Metadata = { title: "로그인 · Sign in" };

export default function MagicLinkPage() {
  return <MagicVerify />;
}
