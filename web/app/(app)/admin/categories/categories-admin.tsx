"use client";

import { CrudPage } from "@/components/admin/crud";
import { Badge } from "@/components/ui";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { Category } from "@/lib/api/types";
import { invalidate, useTeams } from "@/lib/directory";
import { useI18n } from "@/lib/i18n";

export function CategoriesAdmin() {
  const { t } = useI18n();
  const teams = useTeams();
  return (
    <CrudPage<Category>
      title={t("admin.categories")}
      queryKey="admin-categories"
      newLabel={t("categories.new")}
      emptyTitle={t("categories.empty")}
      initialValues={{ active: true }}
      load={async () => itemsOf<Category>(await unwrap(api().GET("/api/v1/categories")))}
      create={async (values) => {
        await unwrap(api().POST("/api/v1/categories", { body: values as never }));
        invalidate("categories");
      }}
      update={async (row, values) => {
        await unwrap(
          api().PATCH("/api/v1/categories/{category_id}", { params: { path: { category_id: row.id } }, body: values as never }),
        );
        invalidate("categories");
      }}
      columns={[
        { label: t("common.name"), render: (c) => <span className="font-medium">{c.name}</span> },
        { label: t("categories.nameEn"), render: (c) => c.name_en ?? "—" },
        { label: t("categories.defaultTeam"), render: (c) => teams?.find((tm) => tm.id === c.default_team_id)?.name ?? "—" },
        { label: t("common.status"), render: (c) => (c.active ? <Badge tone="green">{t("common.active")}</Badge> : <Badge tone="gray">{t("common.inactive")}</Badge>) },
      ]}
      fields={[
        { name: "name", label: t("common.name"), kind: "text", required: true },
        { name: "name_en", label: t("categories.nameEn"), kind: "text" },
        {
          name: "default_team_id",
          label: t("categories.defaultTeam"),
          kind: "select",
          numeric: true,
          options: (teams ?? []).map((tm) => ({ value: tm.id, label: tm.name })),
        },
        { name: "active", label: t("common.active"), kind: "checkbox" },
      ]}
    />
  );
}
