"use client";

import Link from "next/link";
import { useI18n } from "@/lib/i18n";

export default function NotFound() {
  const { t } = useI18n();
  return (
    <main className="mx-auto w-full max-w-xl px-4 py-20 text-center">
      <p className="text-5xl font-bold text-slate-300">404</p>
      <h1 className="mt-3 text-lg font-semibold">{t("error.notFound")}</h1>
      <p className="mt-2 text-sm text-slate-600">{t("error.notFoundBody")}</p>
      <Link href="/" className="mt-6 inline-block text-sm text-brand-600 hover:underline">
        {t("error.home")}
      </Link>
    </main>
  );
}
