"use client";

import type { ReactNode } from "react";
import { useI18n } from "@/lib/i18n";
import { LocaleSwitcher } from "./locale-switcher";

export function AuthCard({ title, subtitle, children }: { title: string; subtitle?: string; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <main className="flex flex-1 flex-col items-center justify-center bg-gradient-to-b from-brand-50 to-slate-50 px-4 py-12">
      <div className="absolute right-4 top-4">
        <LocaleSwitcher />
      </div>
      <div className="mb-6 flex items-center gap-2 text-lg font-semibold">
        <span aria-hidden className="rounded bg-brand-600 px-2 py-0.5 text-sm text-white">
          IT
        </span>
        {t("app.name")}
      </div>
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-xl font-semibold">{title}</h1>
        {subtitle && <p className="mt-1 text-sm text-slate-500">{subtitle}</p>}
        <div className="mt-5">{children}</div>
      </div>
    </main>
  );
}
