"use client";

import { useState, type FormEvent, type ReactNode } from "react";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";
import { useToast } from "../toast";
import { Button, EmptyState, ErrorNotice, Field, Input, Modal, PageHeader, Select, Skeleton, Textarea } from "../ui";

export type Values = Record<string, unknown>;

export interface FieldDef {
  name: string;
  label: string;
  kind: "text" | "email" | "number" | "textarea" | "checkbox" | "select" | "password" | "date";
  options?: { value: string | number; label: string }[];
  required?: boolean;
  /** Shown only when creating (e.g. an initial password, an immutable email). */
  createOnly?: boolean;
  /** For selects: the empty choice means null; numeric: values are ids. */
  emptyLabel?: string;
  numeric?: boolean;
  hint?: string;
}

export interface Column<T> {
  label: string;
  render: (row: T) => ReactNode;
  className?: string;
}

export function CrudPage<T extends { id: number | string }>({
  title,
  queryKey,
  newLabel,
  emptyTitle,
  load,
  create,
  update,
  remove,
  canRemove,
  columns,
  fields,
  rowActions,
  toolbar,
  initialValues,
}: {
  title: string;
  queryKey: string;
  newLabel?: string;
  emptyTitle: string;
  load: () => Promise<T[]>;
  create?: (values: Values) => Promise<unknown>;
  update?: (row: T, values: Values) => Promise<unknown>;
  remove?: (row: T) => Promise<unknown>;
  canRemove?: (row: T) => boolean;
  columns: Column<T>[];
  fields: FieldDef[];
  rowActions?: (row: T, reload: () => void) => ReactNode;
  toolbar?: ReactNode;
  initialValues?: Values;
}) {
  const { t } = useI18n();
  const toast = useToast();
  const rows = useQuery(queryKey, load);
  const [editing, setEditing] = useState<{ row: T | null } | null>(null);

  async function onRemove(row: T) {
    if (!remove || !window.confirm(t("common.confirmDelete"))) return;
    try {
      await remove(row);
      toast(t("common.saved"));
      void rows.refetch();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    }
  }

  return (
    <div>
      <PageHeader
        title={title}
        actions={
          <>
            {toolbar}
            {create && newLabel && (
              <Button variant="primary" onClick={() => setEditing({ row: null })}>
                {newLabel}
              </Button>
            )}
          </>
        }
      />
      {rows.error ? (
        <ErrorNotice error={rows.error} onRetry={() => void rows.refetch()} />
      ) : rows.data === undefined ? (
        <Skeleton />
      ) : rows.data.length === 0 ? (
        <EmptyState
          title={emptyTitle}
          action={
            create && newLabel ? (
              <Button variant="primary" onClick={() => setEditing({ row: null })}>
                {newLabel}
              </Button>
            ) : undefined
          }
        />
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
          <table className="min-w-full divide-y divide-slate-200 text-sm" data-testid="admin-table">
            <thead className="bg-slate-50">
              <tr>
                {columns.map((c) => (
                  <th key={c.label} scope="col" className="px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    {c.label}
                  </th>
                ))}
                {(update || remove || rowActions) && (
                  <th scope="col" className="px-3 py-2 text-right text-xs font-semibold uppercase tracking-wide text-slate-500">
                    {t("common.actions")}
                  </th>
                )}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {rows.data.map((row) => (
                <tr key={row.id} className="hover:bg-slate-50">
                  {columns.map((c) => (
                    <td key={c.label} className={`px-3 py-2 ${c.className ?? ""}`}>
                      {c.render(row)}
                    </td>
                  ))}
                  {(update || remove || rowActions) && (
                    <td className="whitespace-nowrap px-3 py-2 text-right">
                      {rowActions?.(row, () => void rows.refetch())}
                      {update && (
                        <Button size="sm" variant="ghost" onClick={() => setEditing({ row })}>
                          {t("common.edit")}
                        </Button>
                      )}
                      {remove && (canRemove?.(row) ?? true) && (
                        <Button size="sm" variant="ghost" className="text-red-600" onClick={() => void onRemove(row)}>
                          {t("common.delete")}
                        </Button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <Modal title={editing.row ? t("common.edit") : (newLabel ?? title)} onClose={() => setEditing(null)}>
          <RecordForm
            fields={editing.row ? fields.filter((f) => !f.createOnly) : fields}
            initial={(editing.row as Values | null) ?? initialValues ?? {}}
            onCancel={() => setEditing(null)}
            onSubmit={async (values) => {
              if (editing.row) await update!(editing.row, values);
              else await create!(values);
              toast(t("common.saved"));
              setEditing(null);
              void rows.refetch();
            }}
          />
        </Modal>
      )}
    </div>
  );
}

export function RecordForm({
  fields,
  initial,
  onSubmit,
  onCancel,
}: {
  fields: FieldDef[];
  initial: Values;
  onSubmit: (values: Values) => Promise<void>;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const [values, setValues] = useState<Values>(() =>
    Object.fromEntries(fields.map((f) => [f.name, initial[f.name] ?? (f.kind === "checkbox" ? false : "")])),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const out: Values = {};
      for (const f of fields) {
        const v = values[f.name];
        if (f.kind === "checkbox") out[f.name] = Boolean(v);
        else if (f.kind === "number") out[f.name] = v === "" || v === null ? null : Number(v);
        else if (f.kind === "select") out[f.name] = v === "" || v === null ? null : f.numeric ? Number(v) : v;
        else if (f.kind === "password" && !v) continue;
        else out[f.name] = typeof v === "string" ? v.trim() : v;
      }
      await onSubmit(out);
    } catch (cause) {
      setError(cause);
    } finally {
      setBusy(false);
    }
  }

  const set = (name: string, value: unknown) => setValues((v) => ({ ...v, [name]: value }));
  return (
    <form onSubmit={submit} className="space-y-4">
      {fields.map((f) => {
        const id = `field-${f.name}`;
        const value = values[f.name];
        if (f.kind === "checkbox") {
          return (
            <label key={f.name} className="flex items-center gap-2 text-sm">
              <input id={id} name={f.name} type="checkbox" checked={Boolean(value)} onChange={(e) => set(f.name, e.target.checked)} />
              {f.label}
            </label>
          );
        }
        return (
          <Field key={f.name} label={f.label} htmlFor={id} hint={f.hint}>
            {f.kind === "textarea" ? (
              <Textarea id={id} name={f.name} rows={6} required={f.required} value={String(value ?? "")} onChange={(e) => set(f.name, e.target.value)} />
            ) : f.kind === "select" ? (
              <Select id={id} name={f.name} required={f.required} value={String(value ?? "")} onChange={(e) => set(f.name, e.target.value)}>
                {!f.required && <option value="">{f.emptyLabel ?? t("common.none")}</option>}
                {f.options?.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </Select>
            ) : (
              <Input
                id={id}
                name={f.name}
                type={f.kind}
                required={f.required}
                value={String(value ?? "")}
                onChange={(e) => set(f.name, e.target.value)}
                autoComplete={f.kind === "password" ? "new-password" : undefined}
              />
            )}
          </Field>
        );
      })}
      {error !== null && <ErrorNotice error={error} />}
      <div className="flex justify-end gap-2">
        <Button onClick={onCancel}>{t("common.cancel")}</Button>
        <Button type="submit" variant="primary" disabled={busy}>
          {busy ? t("common.saving") : t("common.save")}
        </Button>
      </div>
    </form>
  );
}
