"use client";

import { useRouter } from "next/navigation";
import { useCallback, useState, type FormEvent } from "react";
import { AttachmentUploader, type UploadState } from "@/components/attachment-uploader";
import { Button, Card, ErrorNotice, Field, Input, PageHeader, Select, Textarea } from "@/components/ui";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";

export function NewRequestForm() {
  const { t, locale } = useI18n();
  const router = useRouter();
  const [subject, setSubject] = useState("");
  const [body, setBody] = useState("");
  const [categoryId, setCategoryId] = useState("");
  const [uploads, setUploads] = useState<UploadState>({ attachmentIds: [], busy: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const categories = useQuery("categories", async () =>
    itemsOf(await unwrap(api().GET("/api/v1/categories"))).filter((c) => c.active),
  );
  const onUploads = useCallback((state: UploadState) => setUploads(state), []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const ticket = await unwrap(
        api().POST("/api/v1/tickets", {
          body: {
            subject: subject.trim(),
            body,
            category_id: categoryId ? Number(categoryId) : null,
            priority: "normal",
            attachment_ids: uploads.attachmentIds,
          },
        }),
      );
      router.push(`/requests/${ticket.id}`);
    } catch (cause) {
      setError(cause);
      setBusy(false);
    }
  }

  return (
    <div className="mx-auto max-w-2xl">
      <PageHeader title={t("newRequest.title")} />
      <Card className="p-5">
        <form onSubmit={submit} className="space-y-5">
          <Field label={t("newRequest.subject")} hint={t("newRequest.subjectHint")} htmlFor="subject">
            <Input id="subject" name="subject" required maxLength={300} value={subject} onChange={(e) => setSubject(e.target.value)} />
          </Field>
          <Field label={t("newRequest.category")} htmlFor="category">
            <Select id="category" name="category" value={categoryId} onChange={(e) => setCategoryId(e.target.value)}>
              <option value="">{t("newRequest.categoryNone")}</option>
              {(categories.data ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {locale === "en" && c.name_en ? c.name_en : c.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field label={t("newRequest.description")} hint={t("newRequest.descriptionHint")} htmlFor="body">
            <Textarea id="body" name="body" required rows={8} value={body} onChange={(e) => setBody(e.target.value)} />
          </Field>
          <AttachmentUploader onChange={onUploads} />
          {error !== null && <ErrorNotice error={error} />}
          <div className="flex items-center justify-end gap-3">
            {uploads.busy && <span className="text-xs text-slate-500">{t("newRequest.waitUploads")}</span>}
            <Button type="submit" variant="primary" disabled={busy || uploads.busy || !subject.trim() || !body.trim()}>
              {busy ? t("newRequest.submitting") : t("newRequest.submit")}
            </Button>
          </div>
        </form>
      </Card>
    </div>
  );
}
