"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useI18n, type MessageKey } from "@/lib/i18n";

const SECTIONS: { href: string; key: MessageKey }[] = [
  { href: "/admin/jobs", key: "admin.jobs" },
  { href: "/admin/mail", key: "admin.mail" },
  { href: "/admin/outbound", key: "admin.outbound" },
  { href: "/admin/users", key: "admin.users" },
  { href: "/admin/teams", key: "admin.teams" },
  { href: "/admin/categories", key: "admin.categories" },
  { href: "/admin/canned", key: "admin.canned" },
  { href: "/admin/sla", key: "admin.sla" },
  { href: "/admin/calendars", key: "admin.calendars" },
];

export function AdminNav() {
  const { t } = useI18n();
  const pathname = usePathname();
  return (
    <aside className="lg:w-48 lg:shrink-0">
      <h2 className="mb-2 px-2 text-xs font-semibold uppercase tracking-wide text-slate-500">{t("admin.title")}</h2>
      <nav className="flex gap-1 overflow-x-auto lg:flex-col" data-testid="admin-nav">
        {SECTIONS.map((s) => {
          const active = pathname === s.href || pathname.startsWith(s.href + "/");
          return (
            <Link
              key={s.href}
              href={s.href}
              aria-current={active ? "page" : undefined}
              className={`shrink-0 rounded-md px-3 py-2 text-sm ${active ? "bg-brand-50 font-medium text-brand-700" : "text-slate-700 hover:bg-slate-100"}`}
            >
              {t(s.key)}
            </Link>
          );
        })}
      </nav>
    </aside>
  );
}
