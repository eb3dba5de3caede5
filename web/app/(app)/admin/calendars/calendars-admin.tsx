"use client";

import Link from "next/link";
import { CrudPage } from "@/components/admin/crud";
import { Badge } from "@/components/ui";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { BusinessCalendar } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";

export function weeklyHoursText(hours: Record<string, unknown> | null | undefined): string {
  if (!hours) return "—";
  return Object.entries(hours)
    .map(([day, spans]) => `${day} ${Array.isArray(spans) ? spans.map((s) => (Array.isArray(s) ? s.join("–") : String(s))).join(", ") : String(spans)}`)
    .join(" · ");
}

export function CalendarsAdmin() {
  const { t } = useI18n();
  const path = (row: BusinessCalendar) => ({ params: { path: { calendar_id: row.id } } });
  return (
    <CrudPage<BusinessCalendar>
      title={t("admin.calendars")}
      queryKey="admin-calendars"
      newLabel={t("calendars.new")}
      emptyTitle={t("calendars.empty")}
      initialValues={{ timezone: "Asia/Seoul", use_kr_holidays: true }}
      load={async () => itemsOf<BusinessCalendar>(await unwrap(api().GET("/api/v1/admin/calendars")))}
      create={(values) => unwrap(api().POST("/api/v1/admin/calendars", { body: values as never }))}
      update={(row, values) => unwrap(api().PATCH("/api/v1/admin/calendars/{calendar_id}", { ...path(row), body: values as never }))}
      rowActions={(c) => (
        <Link href={`/admin/calendars/${c.id}`} className="mr-2 text-xs text-brand-600 hover:underline">
          {t("calendars.holidays")}
        </Link>
      )}
      columns={[
        { label: t("common.name"), render: (c) => <Link href={`/admin/calendars/${c.id}`} className="font-medium hover:text-brand-700">{c.name}</Link> },
        { label: t("calendars.timezone"), render: (c) => c.timezone },
        { label: t("calendars.weeklyHours"), render: (c) => <span className="text-xs text-slate-600">{weeklyHoursText(c.weekly_hours)}</span> },
        { label: t("calendars.krHolidays"), render: (c) => (c.use_kr_holidays ? <Badge tone="green">{t("common.yes")}</Badge> : <Badge tone="gray">{t("common.no")}</Badge>) },
      ]}
      fields={[
        { name: "name", label: t("common.name"), kind: "text", required: true },
        { name: "timezone", label: t("calendars.timezone"), kind: "text", required: true },
        { name: "use_kr_holidays", label: t("calendars.krHolidays"), kind: "checkbox" },
      ]}
    />
  );
}
