"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "./api/client";
import { adoptPrefetched } from "./prefetch";

export interface Query<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  refetch: () => Promise<void>;
  setData: (update: T | ((previous: T | undefined) => T)) => void;
}

/**
 * Loads data in the browser (the session cookie belongs to the API's origin, so the browser is the
 * one that can send it). Re-runs when `key` changes. Unexpected failures (network, 5xx) are thrown
 * during render so the route segment's error.tsx shows them; expected ones (404, 403, 409) are
 * returned for the page to explain.
 */
export function useQuery<T>(key: string | null, load: () => Promise<T>): Query<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(key !== null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  const keyRef = useRef(key);
  keyRef.current = key;

  const run = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const early = keyRef.current === null ? undefined : adoptPrefetched<T>(keyRef.current);
      const value = await (early ?? loadRef.current());
      if (mine === generation.current) {
        setDataState(value);
        setError(undefined);
      }
    } catch (cause) {
      if (mine === generation.current) {
        setError(cause instanceof ApiError ? cause : new ApiError(0, { error: String(cause) }));
      }
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (key === null) return;
    void run();
  }, [key, run]);

  if (error && isUnexpected(error) && data === undefined) throw error;

  const setData = useCallback((update: T | ((previous: T | undefined) => T)) => {
    setDataState((previous) =>
      typeof update === "function" ? (update as (p: T | undefined) => T)(previous) : update,
    );
  }, []);

  return { data, error, loading, refetch: run, setData };
}

function isUnexpected(error: ApiError): boolean {
  // 401 is handled by the session (redirect to sign-in); 4xx are the page's to explain.
  return error.status === 0 || error.status >= 500;
}
