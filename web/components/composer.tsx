"use client";

import { forwardRef, useCallback, useImperativeHandle, useRef, useState, type FormEvent } from "react";
import { api, unwrap } from "@/lib/api/client";
import type { CannedResponse, Comment } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { AttachmentUploader, type UploadState } from "./attachment-uploader";
import { useToast } from "./toast";
import { Button, ErrorNotice, Textarea } from "./ui";

export type ComposerMode = "public" | "internal";

export interface ComposerHandle {
  focus: (mode?: ComposerMode) => void;
}

/** The reply box: public reply (mailed to the requester) or, for agents, an internal note. */
export const Composer = forwardRef<
  ComposerHandle,
  {
    ticketId: number;
    allowInternal: boolean;
    canned?: CannedResponse[];
    hint?: string;
    onPosted: (comment: Comment) => void;
  }
>(function Composer({ ticketId, allowInternal, canned, hint, onPosted }, ref) {
  const { t, locale } = useI18n();
  const toast = useToast();
  const [mode, setMode] = useState<ComposerMode>("public");
  const [body, setBody] = useState("");
  const [uploads, setUploads] = useState<UploadState>({ attachmentIds: [], busy: false });
  const [resetKey, setResetKey] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [cannedOpen, setCannedOpen] = useState(false);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const onUploads = useCallback((state: UploadState) => setUploads(state), []);

  useImperativeHandle(ref, () => ({
    focus(next) {
      if (next && (next === "public" || allowInternal)) setMode(next);
      textarea.current?.focus();
      textarea.current?.scrollIntoView({ block: "center", behavior: "smooth" });
    },
  }));

  async function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!body.trim() || busy || uploads.busy) return;
    setBusy(true);
    setError(null);
    try {
      const comment = await unwrap(
        api().POST("/api/v1/tickets/{ticket_id}/comments", {
          params: { path: { ticket_id: ticketId } },
          body: { body, visibility: mode, attachment_ids: uploads.attachmentIds },
        }),
      );
      setBody("");
      setResetKey((k) => k + 1);
      toast(mode === "internal" ? t("reply.addNote") : t("reply.sent"));
      onPosted(comment);
    } catch (cause) {
      setError(cause);
    } finally {
      setBusy(false);
    }
  }

  function insertCanned(c: CannedResponse) {
    setBody((current) => (current.trim() ? `${current.trimEnd()}\n\n${c.body}` : c.body));
    setCannedOpen(false);
    textarea.current?.focus();
  }

  const internal = mode === "internal";
  return (
    <form
      onSubmit={submit}
      className={`rounded-lg border p-3 shadow-sm ${internal ? "border-amber-300 bg-amber-50" : "border-slate-200 bg-white"}`}
      data-testid="composer"
      data-mode={mode}
    >
      {allowInternal && (
        <div role="tablist" className="mb-2 flex gap-1 text-sm">
          {(["public", "internal"] as const).map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={mode === m}
              onClick={() => setMode(m)}
              className={`rounded-md px-3 py-1 ${mode === m ? (m === "internal" ? "bg-amber-200 font-medium" : "bg-brand-50 font-medium text-brand-700") : "text-slate-600 hover:bg-slate-100"}`}
            >
              {m === "public" ? t("reply.public") : t("reply.internal")}
            </button>
          ))}
          {canned && (
            <div className="relative ml-auto">
              <Button size="sm" variant="ghost" onClick={() => setCannedOpen(!cannedOpen)} aria-expanded={cannedOpen}>
                {t("reply.canned")} ▾
              </Button>
              {cannedOpen && (
                <ul className="absolute right-0 z-20 mt-1 max-h-72 w-72 overflow-y-auto rounded-md border border-slate-200 bg-white py-1 shadow-lg">
                  {canned.length === 0 && <li className="px-3 py-2 text-xs text-slate-500">{t("reply.cannedNone")}</li>}
                  {[...canned].sort((a, b) => Number(b.locale === locale) - Number(a.locale === locale)).map((c) => (
                    <li key={c.id}>
                      <button type="button" onClick={() => insertCanned(c)} className="block w-full px-3 py-1.5 text-left text-sm hover:bg-slate-50">
                        <span className="block font-medium">{c.title}</span>
                        <span className="line-clamp-1 text-xs text-slate-500">{c.body}</span>
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
        </div>
      )}
      {hint && <p className="mb-2 text-xs text-slate-500">{hint}</p>}
      <Textarea
        ref={textarea}
        rows={5}
        value={body}
        onChange={(e) => setBody(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) void submit();
          if (e.key === "Escape") textarea.current?.blur();
        }}
        placeholder={internal ? t("reply.notePlaceholder") : t("reply.placeholder")}
        aria-label={internal ? t("reply.internal") : t("reply.public")}
        data-testid="composer-body"
      />
      <div className="mt-2 flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0 flex-1">
          <AttachmentUploader onChange={onUploads} resetKey={resetKey} compact />
        </div>
        <Button type="submit" variant="primary" disabled={busy || uploads.busy || !body.trim()} data-testid="composer-submit">
          {busy ? t("reply.sending") : internal ? t("reply.addNote") : t("reply.send")}
        </Button>
      </div>
      {error !== null && (
        <div className="mt-2">
          <ErrorNotice error={error} />
        </div>
      )}
    </form>
  );
});
