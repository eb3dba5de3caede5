"use client";

import type { ReactNode } from "react";
import { ToastProvider } from "@/components/toast";
import { configureApi } from "@/lib/api/client";
import { I18nProvider } from "@/lib/i18n";
import type { UiLocale } from "@/lib/i18n/locales";

export function Providers({
  apiBase,
  locale,
  children,
}: {
  apiBase: string;
  locale: UiLocale;
  children: ReactNode;
}) {
  // Before any child renders or runs an effect: every request goes to the API the server named.
  configureApi(apiBase);
  return (
    <I18nProvider initial={locale}>
      <ToastProvider>{children}</ToastProvider>
    </I18nProvider>
  );
}
