"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";
import { AuthProvider, useAuth } from "@/lib/auth";
import { useI18n, type MessageKey } from "@/lib/i18n";
import { LocaleSwitcher } from "./locale-switcher";
import { NotificationBell } from "./notification-bell";
import { Skeleton } from "./ui";

export function AppShell({ children }: { children: ReactNode }) {
  return (
    <AuthProvider
      fallback={
        <div className="mx-auto w-full max-w-6xl px-4 py-10">
          <Skeleton lines={6} />
        </div>
      }
    >
      <Header />
      <main id="content" className="mx-auto w-full max-w-7xl flex-1 px-4 py-6">
        {children}
      </main>
    </AuthProvider>
  );
}

function Header() {
  const { t } = useI18n();
  const { user, isAgent, isAdmin, signOut } = useAuth();
  const pathname = usePathname();
  const links: { href: string; key: MessageKey }[] = isAgent
    ? [
        { href: "/tickets", key: "nav.queue" },
        ...(isAdmin ? [{ href: "/admin", key: "nav.admin" as MessageKey }] : []),
      ]
    : [
        { href: "/requests", key: "nav.myRequests" },
        { href: "/requests/new", key: "nav.newRequest" },
      ];
  const active = (href: string) =>
    pathname === href ||
    (pathname.startsWith(href + "/") &&
      !links.some((l) => l.href !== href && l.href.startsWith(href) && pathname.startsWith(l.href)));

  return (
    <header className="sticky top-0 z-20 border-b border-slate-200 bg-white/95 backdrop-blur">
      <a href="#content" className="sr-only focus:not-sr-only focus:absolute focus:p-2">
        {t("app.skip")}
      </a>
      <div className="mx-auto flex h-14 max-w-7xl items-center gap-4 px-4">
        <Link href={isAgent ? "/tickets" : "/requests"} className="flex items-center gap-2 font-semibold">
          <span aria-hidden className="rounded bg-brand-600 px-1.5 py-0.5 text-xs text-white">
            IT
          </span>
          <span className="hidden sm:inline">{t("app.name")}</span>
        </Link>
        <nav aria-label={t("nav.main")} className="flex items-center gap-1">
          {links.map((l) => (
            <Link
              key={l.href}
              href={l.href}
              aria-current={active(l.href) ? "page" : undefined}
              className={`rounded-md px-3 py-1.5 text-sm ${
                active(l.href) ? "bg-brand-50 font-medium text-brand-700" : "text-slate-600 hover:bg-slate-100"
              }`}
            >
              {t(l.key)}
            </Link>
          ))}
        </nav>
        <div className="ml-auto flex items-center gap-2">
          <LocaleSwitcher />
          <NotificationBell />
          <div className="hidden text-right text-xs leading-tight md:block" data-testid="current-user">
            <div className="font-medium text-slate-800">{user.name || user.email}</div>
            <div className="text-slate-500">{t(`role.${user.role}` as MessageKey)}</div>
          </div>
          <button
            type="button"
            onClick={() => void signOut()}
            className="rounded-md px-2 py-1.5 text-sm text-slate-600 hover:bg-slate-100"
          >
            {t("nav.signOut")}
          </button>
        </div>
      </div>
    </header>
  );
}
