"use client";

import { useCallback, useMemo, useState } from "react";
import { useQuery } from "./query";

export interface PageOf<T, C> {
  items: T[];
  next_cursor: C | null;
}

const NONE: never[] = [];

/**
 * A keyset-paginated list: the first page through useQuery (so it can be prefetched and its
 * errors reach the page), then "load more" pages appended until the API says there are none.
 * A new `key` starts over.
 */
export function usePaged<T, C extends string | number>(
  key: string | null,
  load: (cursor: C | null) => Promise<PageOf<T, C>>,
) {
  const first = useQuery(key, () => load(null));
  const [more, setMore] = useState<{ key: string | null; items: T[]; cursor: C | null } | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const extra = more?.key === key ? more.items : (NONE as T[]);
  const cursor = more?.key === key ? more.cursor : (first.data?.next_cursor ?? null);

  const loadMore = useCallback(async () => {
    if (cursor === null) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await load(cursor);
      setMore({ key, items: [...extra, ...page.items], cursor: page.next_cursor });
    } catch (cause) {
      setMoreError(cause);
    } finally {
      setLoadingMore(false);
    }
  }, [cursor, extra, key, load]);

  const items = useMemo(
    () => (first.data ? [...first.data.items, ...extra] : undefined),
    [first.data, extra],
  );
  return {
    items,
    error: first.error,
    refetch: first.refetch,
    hasMore: cursor !== null,
    loadMore,
    loadingMore,
    moreError,
  };
}
