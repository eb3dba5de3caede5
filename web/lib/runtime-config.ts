import "server-only";

/**
 * The API's base URL as browsers reach it (NEXT_PUBLIC_API_BASE_URL), read when a request is
 * rendered, not when the app is built: one build serves any address. `next build` inlines only
 * literal `process.env.NEXT_PUBLIC_X` references, so the lookup goes through a variable key.
 * (API_BASE_URL, if set, is the server-side address, e.g. http://api:8000 inside Compose; the
 * portal does all its API calls from the browser and does not use it.)
 */
export function apiBaseUrl(): string {
  const env = process.env;
  const key = "NEXT_PUBLIC_API_BASE_URL";
  return (env[key] || "http://localhost:8000").replace(/\/+$/, "");
}
