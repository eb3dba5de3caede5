"use client";

import { CrudPage } from "@/components/admin/crud";
import { Badge } from "@/components/ui";
import { PriorityBadge } from "@/components/ticket-badges";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { BusinessCalendar, SlaPolicy, TicketPriority } from "@/lib/api/types";
import { useCategories, useTeams } from "@/lib/directory";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";

const PRIORITIES: TicketPriority[] = ["low", "normal", "high", "urgent"];

export function SlaAdmin() {
  const { t, locale, formatDuration } = useI18n();
  const teams = useTeams();
  const categories = useCategories();
  const calendars = useQuery("admin-calendars-for-sla", async () =>
    itemsOf<BusinessCalendar>(await unwrap(api().GET("/api/v1/admin/calendars"))),
  );
  const path = (row: SlaPolicy) => ({ params: { path: { policy_id: row.id } } });
  const minutes = (m: number) => formatDuration(m * 60_000);
  return (
    <CrudPage<SlaPolicy>
      title={t("admin.sla")}
      queryKey="admin-sla"
      newLabel={t("slaPolicies.new")}
      emptyTitle={t("slaPolicies.empty")}
      initialValues={{ first_response_minutes: 240, resolution_minutes: 2880, reminder_percent: 75, escalate_priority: true, notify_team_lead: true, active: true }}
      load={async () => itemsOf<SlaPolicy>(await unwrap(api().GET("/api/v1/admin/sla-policies")))}
      create={(values) => unwrap(api().POST("/api/v1/admin/sla-policies", { body: values as never }))}
      update={(row, values) => unwrap(api().PATCH("/api/v1/admin/sla-policies/{policy_id}", { ...path(row), body: values as never }))}
      remove={(row) => unwrap(api().DELETE("/api/v1/admin/sla-policies/{policy_id}", path(row)))}
      columns={[
        { label: t("common.name"), render: (p) => <span className="font-medium">{p.name}</span> },
        {
          label: t("ticket.priority"),
          render: (p) => (p.priority ? <PriorityBadge priority={p.priority} /> : <span className="text-xs text-slate-500">{t("slaPolicies.anyPriority")}</span>),
        },
        { label: t("ticket.team"), render: (p) => teams?.find((tm) => tm.id === p.team_id)?.name ?? t("slaPolicies.anyTeam") },
        { label: t("sla.firstResponse"), render: (p) => minutes(p.first_response_minutes) },
        { label: t("sla.resolution"), render: (p) => minutes(p.resolution_minutes) },
        { label: t("slaPolicies.calendar"), render: (p) => calendars.data?.find((c) => c.id === p.calendar_id)?.name ?? "—" },
        { label: t("common.status"), render: (p) => (p.active ? <Badge tone="green">{t("common.active")}</Badge> : <Badge tone="gray">{t("common.inactive")}</Badge>) },
      ]}
      fields={[
        { name: "name", label: t("common.name"), kind: "text", required: true },
        {
          name: "priority",
          label: t("ticket.priority"),
          kind: "select",
          emptyLabel: t("slaPolicies.anyPriority"),
          options: PRIORITIES.map((p) => ({ value: p, label: t(`priority.${p}`) })),
        },
        {
          name: "team_id",
          label: t("ticket.team"),
          kind: "select",
          numeric: true,
          emptyLabel: t("slaPolicies.anyTeam"),
          options: (teams ?? []).map((tm) => ({ value: tm.id, label: tm.name })),
        },
        {
          name: "category_id",
          label: t("ticket.category"),
          kind: "select",
          numeric: true,
          emptyLabel: t("slaPolicies.anyCategory"),
          options: (categories ?? []).map((c) => ({ value: c.id, label: locale === "en" && c.name_en ? c.name_en : c.name })),
        },
        {
          name: "calendar_id",
          label: t("slaPolicies.calendar"),
          kind: "select",
          numeric: true,
          options: (calendars.data ?? []).map((c) => ({ value: c.id, label: c.name })),
        },
        { name: "first_response_minutes", label: t("slaPolicies.firstResponse"), kind: "number", required: true },
        { name: "resolution_minutes", label: t("slaPolicies.resolution"), kind: "number", required: true },
        { name: "reminder_percent", label: t("slaPolicies.reminder"), kind: "number" },
        { name: "escalate_priority", label: t("slaPolicies.escalate"), kind: "checkbox" },
        { name: "notify_team_lead", label: t("slaPolicies.notifyLead"), kind: "checkbox" },
        { name: "active", label: t("common.active"), kind: "checkbox" },
      ]}
    />
  );
}
