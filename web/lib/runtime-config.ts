import "server-only";

/**
 * The API's base URL, read when a request is rendered, not when the app is built: one build serves
 * any port or host. NEXT_PUBLIC_* names would be inlined by `next build`, so the lookup goes through
 * a variable key (Next.js inlines only literal `process.env.NEXT_PUBLIC_X` references).
 */
export function apiBaseUrl(): string {
  const env = process.env;
  const key = "NEXT_PUBLIC_API_BASE_URL";
  return (env.API_BASE_URL || env[key] || "http://localhost:8000").replace(/\/+$/, "");
}
