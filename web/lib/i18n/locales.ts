export type UiLocale = "ko" | "en";
export const LOCALES: readonly UiLocale[] = ["ko", "en"];
export const DEFAULT_LOCALE: UiLocale = "ko";
/** Remembers the UI language for pages shown before sign-in (and before /auth/me answers). */
export const LOCALE_COOKIE = "sd_locale";

export function parseLocale(value: string | undefined | null): UiLocale {
  return value === "en" || value === "ko" ? value : DEFAULT_LOCALE;
}
