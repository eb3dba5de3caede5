"use client";

import { Icon } from "./icons";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { Notification } from "@/lib/api/types";
import { useAuth } from "@/lib/auth";
import { useI18n } from "@/lib/i18n";

const POLL_MS = 30_000;
const FIRST_POLL_MS = 800;

export function notificationHref(n: Notification, isAgent: boolean): string | null {
  if (!n.ticket_id) return null;
  return isAgent ? `/tickets/${n.ticket_id}` : `/requests/${n.ticket_id}`;
}

export function NotificationBell() {
  const { t, formatRelative } = useI18n();
  const { isAgent } = useAuth();
  const router = useRouter();
  const [count, setCount] = useState<number | null>(null);
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<Notification[] | null>(null);
  const box = useRef<HTMLDivElement>(null);

  const refreshCount = useCallback(async () => {
    try {
      const result = await unwrap(api().GET("/api/v1/notifications/unread-count"));
      setCount(result.count);
    } catch {
      // The badge is a convenience; the page keeps working without it.
    }
  }, []);

  useEffect(() => {
    // A moment after the page's own data: the badge should not delay the content.
    const first = setTimeout(() => void refreshCount(), FIRST_POLL_MS);
    const id = setInterval(() => void refreshCount(), POLL_MS);
    const onFocus = () => void refreshCount();
    window.addEventListener("focus", onFocus);
    return () => {
      clearTimeout(first);
      clearInterval(id);
      window.removeEventListener("focus", onFocus);
    };
  }, [refreshCount]);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);

  async function toggle() {
    const next = !open;
    setOpen(next);
    if (next) {
      try {
        setItems(itemsOf(await unwrap(api().GET("/api/v1/notifications", { params: { query: {} } }))));
      } catch {
        setItems([]);
      }
    }
  }

  async function openOne(n: Notification) {
    setOpen(false);
    if (!n.read_at) {
      try {
        await unwrap(
          api().POST("/api/v1/notifications/{notification_id}/read", {
            params: { path: { notification_id: n.id } },
          }),
        );
      } catch {
        // Still navigate.
      }
      void refreshCount();
    }
    const href = notificationHref(n, isAgent);
    if (href) router.push(href);
  }

  async function markAll() {
    try {
      await unwrap(api().POST("/api/v1/notifications/read-all"));
      setItems((list) => list?.map((n) => ({ ...n, read_at: n.read_at ?? new Date().toISOString() })) ?? null);
      setCount(0);
    } catch {
      // Leave the list as it is.
    }
  }

  const unread = count ?? 0;
  return (
    <div className="relative" ref={box}>
      <button
        type="button"
        onClick={() => void toggle()}
        aria-expanded={open}
        aria-label={unread ? t("notifications.unread", { count: unread }) : t("notifications.title")}
        className="relative rounded-md p-2 text-slate-600 hover:bg-slate-100"
        data-testid="notification-bell"
      >
        <Icon name="bell" className="h-5 w-5" />
        {unread > 0 && (
          <span
            data-testid="unread-count"
            className="absolute -right-0.5 -top-0.5 min-w-5 rounded-full bg-red-600 px-1 text-center text-[11px] font-semibold leading-5 text-white"
          >
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      {open && (
        <div className="absolute right-0 z-30 mt-2 w-80 rounded-lg border border-slate-200 bg-white shadow-lg">
          <div className="flex items-center justify-between border-b border-slate-100 px-3 py-2">
            <span className="text-sm font-semibold">{t("notifications.title")}</span>
            {unread > 0 && (
              <button type="button" onClick={() => void markAll()} className="text-xs text-brand-600 hover:underline">
                {t("notifications.markAll")}
              </button>
            )}
          </div>
          <ul className="max-h-96 overflow-y-auto">
            {items === null && <li className="px-3 py-4 text-sm text-slate-500">{t("common.loading")}</li>}
            {items?.length === 0 && (
              <li className="px-3 py-6 text-center text-sm text-slate-500">{t("notifications.empty")}</li>
            )}
            {items?.slice(0, 10).map((n) => (
              <li key={n.id}>
                <button
                  type="button"
                  onClick={() => void openOne(n)}
                  className={`block w-full px-3 py-2 text-left text-sm hover:bg-slate-50 ${n.read_at ? "text-slate-500" : "font-medium text-slate-900"}`}
                >
                  <span className="line-clamp-2">{n.title}</span>
                  <span className="text-xs font-normal text-slate-400">{formatRelative(n.created_at)}</span>
                </button>
              </li>
            ))}
          </ul>
          <Link
            href="/notifications"
            onClick={() => setOpen(false)}
            className="block border-t border-slate-100 px-3 py-2 text-center text-xs text-brand-600 hover:bg-slate-50"
          >
            {t("notifications.viewAll")}
          </Link>
        </div>
      )}
    </div>
  );
}
