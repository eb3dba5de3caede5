"use client";

import { Icon } from "./icons";
import { api, unwrap } from "@/lib/api/client";
import { useOptionalAuth } from "@/lib/auth";
import { useI18n } from "@/lib/i18n";
import { LOCALES, type UiLocale } from "@/lib/i18n/locales";

const LABELS: Record<UiLocale, string> = { ko: "한국어", en: "English" };

export function LocaleSwitcher({ className = "" }: { className?: string }) {
  const { locale, setLocale, t } = useI18n();
  const auth = useOptionalAuth();

  async function change(next: UiLocale) {
    setLocale(next);
    if (auth) {
      // Remembered per user, so the next sign-in (and the mails we send) use it too.
      try {
        auth.setUser(await unwrap(api().PATCH("/api/v1/auth/me", { body: { locale: next } })));
      } catch {
        // The cookie still remembers it on this browser.
      }
    }
  }

  return (
    <label className={`flex items-center gap-1 text-sm ${className}`}>
      <span className="sr-only">{t("nav.language")}</span>
      <Icon name="globe" className="h-4 w-4 text-slate-500" />
      <select
        data-testid="locale-switcher"
        value={locale}
        onChange={(e) => void change(e.target.value as UiLocale)}
        className="rounded-md border border-transparent bg-transparent py-1 pl-1 pr-6 text-sm hover:border-slate-300"
      >
        {LOCALES.map((l) => (
          <option key={l} value={l}>
            {LABELS[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
