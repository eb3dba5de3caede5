"use client";

import Link from "next/link";
import { useState } from "react";
import { notificationHref } from "@/components/notification-bell";
import { Button, EmptyState, ListStates, LoadMore, PageHeader } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { Notification } from "@/lib/api/types";
import { useAuth } from "@/lib/auth";
import { useI18n } from "@/lib/i18n";
import { usePaged } from "@/lib/paged";

export function NotificationsList() {
  const { t, formatRelative, formatDateTime } = useI18n();
  const { isAgent } = useAuth();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const list = usePaged(`notifications-${unreadOnly}`, (cursor: number | null) =>
    unwrap(api().GET("/api/v1/notifications", { params: { query: { unread: unreadOnly || undefined, cursor } } })),
  );

  async function markAll() {
    await unwrap(api().POST("/api/v1/notifications/read-all"));
    void list.refetch();
  }

  async function markRead(n: Notification) {
    if (n.read_at) return;
    try {
      await unwrap(api().POST("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: n.id } } }));
    } catch {
      // Navigation still happens.
    }
  }

  return (
    <div className="mx-auto max-w-3xl">
      <PageHeader
        title={t("notifications.title")}
        actions={
          <>
            <label className="flex items-center gap-1.5 text-sm">
              <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} />
              {t("notifications.onlyUnread")}
            </label>
            <Button onClick={() => void markAll()}>{t("notifications.markAll")}</Button>
          </>
        }
      />
      <ListStates items={list.items} error={list.error} onRetry={() => void list.refetch()} empty={<EmptyState title={t("notifications.empty")} icon="bell" />}>
        {(items) => (
          <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white shadow-sm" data-testid="notifications">
            {items.map((n) => {
              const href = notificationHref(n, isAgent);
              const body = (
                <>
                  <span className={`block ${n.read_at ? "text-slate-600" : "font-medium text-slate-900"}`}>{n.title}</span>
                  {n.body && <span className="line-clamp-2 block text-sm text-slate-500">{n.body}</span>}
                  <span className="text-xs text-slate-400" title={formatDateTime(n.created_at)}>
                    {formatRelative(n.created_at)}
                  </span>
                </>
              );
              return (
                <li key={n.id} className="flex gap-3 px-4 py-3">
                  <span aria-hidden className={`mt-2 h-2 w-2 shrink-0 rounded-full ${n.read_at ? "bg-transparent" : "bg-brand-500"}`} />
                  {href ? (
                    <Link href={href} onClick={() => void markRead(n)} className="min-w-0 flex-1 hover:text-brand-700">
                      {body}
                    </Link>
                  ) : (
                    <div className="min-w-0 flex-1">{body}</div>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </ListStates>
      <LoadMore list={list} />
    </div>
  );
}
