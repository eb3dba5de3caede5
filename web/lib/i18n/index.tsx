"use client";

import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { en } from "./en";
import { ko, type MessageKey } from "./ko";
import { LOCALE_COOKIE, type UiLocale } from "./locales";

const DICTIONARIES: Record<UiLocale, Record<MessageKey, string>> = { ko, en };

interface I18n {
  locale: UiLocale;
  t: (key: MessageKey, vars?: Record<string, string | number>) => string;
  /** Switches the UI now and remembers it in a cookie (the server renders the next page with it). */
  setLocale: (locale: UiLocale) => void;
  formatDateTime: (iso: string | null | undefined) => string;
  formatDate: (iso: string | null | undefined) => string;
  formatRelative: (iso: string | null | undefined) => string;
  formatDuration: (ms: number) => string;
  formatBytes: (bytes: number) => string;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ initial, children }: { initial: UiLocale; children: ReactNode }) {
  const [locale, setLocaleState] = useState<UiLocale>(initial);

  const setLocale = useCallback((next: UiLocale) => {
    setLocaleState(next);
    document.cookie = `${LOCALE_COOKIE}=${next}; Path=/; Max-Age=31536000; SameSite=Lax`;
    document.documentElement.lang = next;
  }, []);

  const value = useMemo<I18n>(() => {
    const dict = DICTIONARIES[locale];
    const tag = locale === "ko" ? "ko-KR" : "en-US";
    const dateTime = new Intl.DateTimeFormat(tag, { dateStyle: "medium", timeStyle: "short" });
    const date = new Intl.DateTimeFormat(tag, { dateStyle: "medium" });
    const relative = new Intl.RelativeTimeFormat(tag, { numeric: "auto" });
    const t = (key: MessageKey, vars?: Record<string, string | number>) => {
      const text = dict[key] ?? key;
      return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => String(vars[name] ?? m)) : text;
    };
    return {
      locale,
      t,
      setLocale,
      formatDateTime: (iso) => (iso ? dateTime.format(new Date(iso)) : "—"),
      formatDate: (iso) => (iso ? date.format(new Date(iso)) : "—"),
      formatRelative: (iso) => {
        if (!iso) return "—";
        const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
        const abs = Math.abs(seconds);
        if (abs < 45) return t("time.justNow");
        if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
        if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
        if (abs < 86400 * 30) return relative.format(Math.round(seconds / 86400), "day");
        return date.format(new Date(iso));
      },
      formatDuration: (ms) => formatDuration(ms, locale),
      formatBytes: (bytes) => formatBytes(bytes),
    };
  }, [locale, setLocale]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error("useI18n outside I18nProvider");
  return value;
}

function formatDuration(ms: number, locale: UiLocale): string {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const units = locale === "ko" ? { d: "일", h: "시간", m: "분" } : { d: "d", h: "h", m: "m" };
  const sep = locale === "ko" ? " " : " ";
  if (days > 0) return `${days}${units.d}${sep}${hours}${units.h}`;
  if (hours > 0) return `${hours}${units.h}${sep}${mins}${units.m}`;
  return `${Math.max(mins, Math.abs(ms) > 0 ? 1 : 0)}${units.m}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

export type { MessageKey, UiLocale };
