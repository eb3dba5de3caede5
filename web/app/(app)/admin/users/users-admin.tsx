"use client";

import { useState } from "react";
import { CrudPage, type FieldDef } from "@/components/admin/crud";
import { Badge, Input, Select } from "@/components/ui";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { Role, User } from "@/lib/api/types";
import { invalidate } from "@/lib/directory";
import { useI18n } from "@/lib/i18n";

const ROLES: Role[] = ["requester", "agent", "admin"];

export function UsersAdmin() {
  const { t, formatRelative } = useI18n();
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const roleOptions = ROLES.map((r) => ({ value: r, label: t(`role.${r}`) }));
  const localeOptions = [
    { value: "ko", label: "한국어" },
    { value: "en", label: "English" },
  ];
  const fields: FieldDef[] = [
    { name: "email", label: t("common.email"), kind: "email", required: true, createOnly: true },
    { name: "name", label: t("common.name"), kind: "text" },
    { name: "role", label: t("users.role"), kind: "select", options: roleOptions, required: true },
    { name: "locale", label: t("users.locale"), kind: "select", options: localeOptions, required: true },
    { name: "department", label: t("users.department"), kind: "text" },
    { name: "password", label: t("users.password"), kind: "password", createOnly: true },
    { name: "active", label: t("common.active"), kind: "checkbox" },
  ];
  return (
    <CrudPage<User>
      title={t("admin.users")}
      queryKey={`users-${q}-${role}`}
      newLabel={t("users.new")}
      emptyTitle={t("users.empty")}
      initialValues={{ role: "requester", locale: "ko", active: true }}
      toolbar={
        <>
          <Input type="search" placeholder={t("users.search")} aria-label={t("users.search")} value={q} onChange={(e) => setQ(e.target.value)} className="w-48 py-1.5" />
          <Select aria-label={t("users.role")} value={role} onChange={(e) => setRole(e.target.value)} className="w-auto py-1.5">
            <option value="">{t("common.all")}</option>
            {roleOptions.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </Select>
        </>
      }
      load={async () =>
        itemsOf<User>(
          await unwrap(api().GET("/api/v1/users", { params: { query: { q: q || undefined, role: (role || undefined) as Role | undefined } } })),
        )
      }
      create={async (values) => {
        await unwrap(api().POST("/api/v1/users", { body: values as never }));
        invalidate("agents");
      }}
      update={async (row, values) => {
        await unwrap(api().PATCH("/api/v1/users/{user_id}", { params: { path: { user_id: row.id } }, body: values as never }));
        invalidate("agents");
      }}
      columns={[
        {
          label: t("common.name"),
          render: (u) => (
            <div>
              <div className="font-medium">{u.name || "—"}</div>
              <div className="text-xs text-slate-500">{u.email}</div>
            </div>
          ),
        },
        { label: t("users.role"), render: (u) => <Badge tone={u.role === "admin" ? "violet" : u.role === "agent" ? "blue" : "slate"}>{t(`role.${u.role as Role}`)}</Badge> },
        { label: t("users.department"), render: (u) => u.department ?? "—" },
        { label: t("common.status"), render: (u) => (u.active ? <Badge tone="green">{t("common.active")}</Badge> : <Badge tone="gray">{t("common.inactive")}</Badge>) },
        {
          label: t("users.mis"),
          render: (u) =>
            u.mis_synced_at ? (
              <span className="text-xs text-slate-600" title={u.external_id ?? undefined}>
                {t("users.misSynced", { time: formatRelative(u.mis_synced_at) })}
              </span>
            ) : (
              <span className="text-xs text-slate-400">{t("users.misNever")}</span>
            ),
        },
      ]}
      fields={fields}
    />
  );
}
