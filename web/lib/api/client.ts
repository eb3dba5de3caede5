/**
 * The one way the portal talks to the API: openapi-fetch typed by the generated schema, with the
 * session in the API's httpOnly `sd_session` cookie (credentials: "include"). No token is ever
 * kept in JavaScript-readable storage.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import type { ApiErrorBody } from "./types";

export type Paths = paths;

let apiBase = "";
let client: ReturnType<typeof createClient<Paths>> | null = null;

export const UNAUTHORIZED_EVENT = "sd:unauthorized";

const notifyUnauthorized: Middleware = {
  onResponse({ request, response }) {
    if (
      response.status === 401 &&
      typeof window !== "undefined" &&
      !new URL(request.url).pathname.startsWith("/api/v1/auth/")
    ) {
      window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
    }
    return response;
  },
};

/** Called by the root providers with the base URL the server read from its environment. */
export function configureApi(base: string): void {
  if (base === apiBase && client) return;
  apiBase = base;
  client = createClient<Paths>({ baseUrl: base, credentials: "include" });
  client.use(notifyUnauthorized);
}

export function getApiBase(): string {
  return apiBase;
}

/** An absolute URL on the API for links the browser follows itself (downloads, raw mail). */
export function apiUrl(path: string): string {
  return /^https?:/.test(path) ? path : `${apiBase}${path.startsWith("/") ? "" : "/"}${path}`;
}

declare global {
  interface Window {
    __API_BASE__?: string;
  }
}

export function api() {
  if (!client && typeof window !== "undefined" && window.__API_BASE__) configureApi(window.__API_BASE__);
  if (!client) throw new Error("the API client is not configured");
  return client;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: unknown;

  constructor(status: number, body: Partial<ApiErrorBody> | undefined) {
    const detail = body?.detail;
    super(typeof detail === "string" ? detail : body?.error || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.error || "http_error";
    this.detail = detail;
  }
}

type Result<D> = { data?: D; error?: unknown; response: Response };

/** Resolves to the response body, or throws ApiError (network failures: status 0). */
export async function unwrap<D>(call: Promise<Result<D>>): Promise<D> {
  let result: Result<D>;
  try {
    result = await call;
  } catch (cause) {
    const err = new ApiError(0, { error: "network_error", detail: String(cause) });
    throw err;
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(result.response.status, result.error as Partial<ApiErrorBody>);
  }
  return result.data as D;
}

/** Lists are sometimes plain arrays and sometimes keyset pages; the screens take either. */
export function itemsOf<T>(value: T[] | { items: T[] } | null | undefined): T[] {
  if (!value) return [];
  return Array.isArray(value) ? value : value.items;
}
