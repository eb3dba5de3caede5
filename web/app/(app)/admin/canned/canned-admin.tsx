"use client";

import { CrudPage } from "@/components/admin/crud";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { CannedResponse } from "@/lib/api/types";
import { invalidate, useTeams } from "@/lib/directory";
import { useI18n } from "@/lib/i18n";

export function CannedAdmin() {
  const { t, locale } = useI18n();
  const teams = useTeams();
  const path = (row: CannedResponse) => ({ params: { path: { canned_id: row.id } } });
  return (
    <CrudPage<CannedResponse>
      title={t("admin.canned")}
      queryKey="admin-canned"
      newLabel={t("canned.new")}
      emptyTitle={t("canned.empty")}
      initialValues={{ locale }}
      load={async () => itemsOf<CannedResponse>(await unwrap(api().GET("/api/v1/canned-responses")))}
      create={async (values) => {
        await unwrap(api().POST("/api/v1/canned-responses", { body: values as never }));
        invalidate("canned");
      }}
      update={async (row, values) => {
        await unwrap(api().PATCH("/api/v1/canned-responses/{canned_id}", { ...path(row), body: values as never }));
        invalidate("canned");
      }}
      remove={async (row) => {
        await unwrap(api().DELETE("/api/v1/canned-responses/{canned_id}", path(row)));
        invalidate("canned");
      }}
      columns={[
        { label: t("canned.title"), render: (c) => <span className="font-medium">{c.title}</span> },
        { label: t("canned.body"), render: (c) => <span className="line-clamp-2 max-w-xl text-slate-600">{c.body}</span> },
        { label: t("users.locale"), render: (c) => (c.locale === "en" ? "English" : "한국어") },
        { label: t("ticket.team"), render: (c) => teams?.find((tm) => tm.id === c.team_id)?.name ?? t("common.all") },
      ]}
      fields={[
        { name: "title", label: t("canned.title"), kind: "text", required: true },
        { name: "body", label: t("canned.body"), kind: "textarea", required: true },
        {
          name: "locale",
          label: t("users.locale"),
          kind: "select",
          required: true,
          options: [
            { value: "ko", label: "한국어" },
            { value: "en", label: "English" },
          ],
        },
        {
          name: "team_id",
          label: t("ticket.team"),
          kind: "select",
          numeric: true,
          emptyLabel: t("common.all"),
          options: (teams ?? []).map((tm) => ({ value: tm.id, label: tm.name })),
        },
      ]}
    />
  );
}
