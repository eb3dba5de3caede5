"use client";

import Link from "next/link";
import { CrudPage } from "@/components/admin/crud";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { BusinessCalendar, Holiday } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";
import { weeklyHoursText } from "../calendars-admin";

export function CalendarHolidays({ calendarId }: { calendarId: number }) {
  const { t, formatDate } = useI18n();
  const calendars = useQuery("admin-calendars", async () =>
    itemsOf<BusinessCalendar>(await unwrap(api().GET("/api/v1/admin/calendars"))),
  );
  const calendar = calendars.data?.find((c) => c.id === calendarId);
  const path = { params: { path: { calendar_id: calendarId } } };
  return (
    <div>
      <Link href="/admin/calendars" className="text-sm text-slate-500 hover:text-slate-800">
        ← {t("admin.calendars")}
      </Link>
      {calendar && (
        <p className="mt-2 text-sm text-slate-600">
          <span className="font-medium text-slate-900">{calendar.name}</span> · {calendar.timezone} · {weeklyHoursText(calendar.weekly_hours)}
        </p>
      )}
      <div className="mt-4">
        <CrudPage<Omit<Holiday, "id"> & { id: number | string }>
          title={`${calendar?.name ?? ""} ${t("calendars.holidays")}`.trim()}
          queryKey={`holidays-${calendarId}`}
          newLabel={t("calendars.addHoliday")}
          emptyTitle={t("calendars.holidaysEmpty")}
          load={async () =>
            itemsOf<Holiday>(await unwrap(api().GET("/api/v1/admin/calendars/{calendar_id}/holidays", path))).map((h) => ({
              ...h,
              // Korean public holidays come from the calendar rules, not rows: they have no id.
              id: h.id ?? `kr-${h.day}`,
            }))
          }
          create={(values) =>
            unwrap(api().POST("/api/v1/admin/calendars/{calendar_id}/holidays", { ...path, body: values as never }))
          }
          remove={(row) =>
            unwrap(
              api().DELETE("/api/v1/admin/calendars/{calendar_id}/holidays/{holiday_id}", {
                params: { path: { calendar_id: calendarId, holiday_id: Number(row.id) } },
              }),
            )
          }
          canRemove={(row) => typeof row.id === "number"}
          columns={[
            { label: t("calendars.day"), render: (h) => formatDate(h.day) },
            { label: t("common.name"), render: (h) => h.name || "—" },
            { label: t("calendars.source"), render: (h) => (h.source === "kr" ? t("calendars.krHolidays") : t("calendars.custom")) },
          ]}
          fields={[
            { name: "day", label: t("calendars.day"), kind: "date", required: true },
            { name: "name", label: t("common.name"), kind: "text" },
          ]}
        />
      </div>
    </div>
  );
}
