/**
 * Requests started before React needs them. The queue's list does not depend on who is signed in
 * (the API answers for the session cookie), so it is asked for while /auth/me is still in flight
 * instead of after it: one round trip less before the first rows. useQuery adopts a prefetched
 * promise with the same key once; a 401 still ends at the sign-in page through the session check.
 */
const inflight = new Map<string, { promise: Promise<unknown>; at: number }>();
const FRESH_MS = 10_000;

export function prefetch<T>(key: string, load: () => Promise<T>): void {
  if (inflight.has(key)) return;
  const promise = load();
  promise.catch(() => undefined); // adopted later, or dropped: never an unhandled rejection
  inflight.set(key, { promise, at: Date.now() });
}

export function adoptPrefetched<T>(key: string): Promise<T> | undefined {
  const entry = inflight.get(key);
  inflight.delete(key);
  return entry && Date.now() - entry.at < FRESH_MS ? (entry.promise as Promise<T>) : undefined;
}
