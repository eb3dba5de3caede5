"use client";

import { useEffect, useMemo, useState } from "react";
import { apiUrl } from "@/lib/api/client";
import type { Attachment, Comment } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { estimateHeight, frameDocument, inlineImages, referencedImages, splitQuoted } from "@/lib/mail-html";
import { AttachmentList, withQuery } from "./attachments";
import { TrustBadge } from "./mail-trust";
import { EmptyState } from "./ui";

export function Thread({ comments, showInternal }: { comments: Comment[]; showInternal: boolean }) {
  const { t } = useI18n();
  const visible = showInternal ? comments : comments.filter((c) => c.visibility === "public");
  if (visible.length === 0) return <EmptyState title={t("thread.empty")} icon="chat" />;
  return (
    <ol className="space-y-4" aria-label={t("thread.title")} data-testid="thread">
      {visible.map((c) => (
        <li key={c.id}>
          <CommentCard comment={c} />
        </li>
      ))}
    </ol>
  );
}

function CommentCard({ comment }: { comment: Comment }) {
  const { t, formatDateTime, formatRelative } = useI18n();
  const internal = comment.visibility === "internal";
  const system = comment.source === "system";
  const staff = comment.author?.role === "agent" || comment.author?.role === "admin";
  return (
    <article
      data-testid="comment"
      data-visibility={comment.visibility}
      className={`rounded-lg border px-4 py-3 shadow-sm ${
        internal
          ? "border-amber-200 bg-amber-50"
          : system
            ? "border-slate-200 bg-slate-50"
            : staff
              ? "border-brand-100 bg-white"
              : "border-slate-200 bg-white"
      }`}
    >
      <header className="mb-2 flex flex-wrap items-center gap-x-2 gap-y-1 text-sm">
        <span className="font-medium text-slate-900">
          {comment.author?.name || (system ? t("thread.system") : t("common.unknown"))}
        </span>
        {internal && (
          <span className="rounded bg-amber-200 px-1.5 py-0.5 text-xs font-medium text-amber-900">
            {t("thread.internal")}
          </span>
        )}
        <span className="text-xs text-slate-600">
          {comment.source === "email" ? t("thread.viaEmail") : comment.source === "web" ? t("thread.viaWeb") : ""}
        </span>
        <TrustBadge level={comment.mail_trust} />
        <time className="ml-auto text-xs text-slate-500" dateTime={comment.created_at} title={formatDateTime(comment.created_at)}>
          {formatRelative(comment.created_at)}
        </time>
      </header>
      {comment.body_html && comment.source === "email" ? (
        <MailBody comment={comment} />
      ) : (
        <PlainBody text={comment.body_text} quoteStart={comment.quote_start} />
      )}
      <AttachmentList attachments={comment.attachments ?? []} />
    </article>
  );
}

function QuoteToggle({ open, onToggle }: { open: boolean; onToggle: () => void }) {
  const { t } = useI18n();
  return (
    <button
      type="button"
      onClick={onToggle}
      aria-expanded={open}
      data-testid="quote-toggle"
      className="mt-2 rounded border border-slate-200 bg-white px-2 py-0.5 text-xs text-slate-600 hover:bg-slate-50"
    >
      {open ? t("thread.hideQuoted") : `··· ${t("thread.showQuoted")}`}
    </button>
  );
}

function PlainBody({ text, quoteStart }: { text: string; quoteStart: number | null }) {
  const [open, setOpen] = useState(false);
  const cut = quoteStart !== null && quoteStart > 0 && quoteStart < text.length ? quoteStart : null;
  const fresh = cut === null ? text : text.slice(0, cut).trimEnd();
  return (
    <div className="text-sm leading-relaxed text-slate-800">
      <div className="whitespace-pre-wrap break-words" data-testid="comment-body">
        {fresh}
      </div>
      {cut !== null && (
        <>
          <QuoteToggle open={open} onToggle={() => setOpen(!open)} />
          {open && (
            <div className="mt-2 whitespace-pre-wrap break-words border-l-2 border-slate-300 pl-3 text-slate-500" data-testid="quoted">
              {text.slice(cut)}
            </div>
          )}
        </>
      )}
    </div>
  );
}

/** Fetches the images a mail shows inline through the API (with the session), as data: URLs. */
function useInlineImages(html: string, attachments: Attachment[]): Map<string, string> | null {
  const wanted = useMemo(() => referencedImages(html, attachments), [html, attachments]);
  const [map, setMap] = useState<Map<string, string> | null>(wanted.length ? null : new Map());
  useEffect(() => {
    if (wanted.length === 0) return;
    let cancelled = false;
    Promise.all(
      wanted.map(async (a) => {
        try {
          if (a.size > 5 * 1024 * 1024) return [];
          const response = await fetch(withQuery(apiUrl(a.download_url), "inline=1"), {
            credentials: "include",
          });
          if (!response.ok) return [];
          const blob = await response.blob();
          const data = await new Promise<string>((resolve, reject) => {
            const reader = new FileReader();
            reader.onload = () => resolve(String(reader.result));
            reader.onerror = () => reject(reader.error);
            reader.readAsDataURL(blob);
          });
          const keys = [a.download_url.split("?")[0]];
          if (a.content_id) keys.push(`cid:${a.content_id.replace(/^<|>$/g, "")}`);
          return keys.map((k) => [k, data] as const);
        } catch {
          return [];
        }
      }),
    ).then((pairs) => {
      if (!cancelled) setMap(new Map(pairs.flat()));
    });
    return () => {
      cancelled = true;
    };
  }, [wanted]);
  return map;
}

function MailBody({ comment }: { comment: Comment }) {
  const { t } = useI18n();
  const [showQuoted, setShowQuoted] = useState(false);
  const [mounted, setMounted] = useState(false);
  const images = useInlineImages(comment.body_html ?? "", comment.attachments ?? []);
  useEffect(() => setMounted(true), []);

  const parts = useMemo(() => {
    if (!mounted) return null;
    const html = comment.body_html ?? "";
    const { fresh, hadQuote } = splitQuoted(html);
    return { full: html, fresh, hadQuote };
  }, [comment.body_html, mounted]);

  // DOMParser is browser-only: the frame is built after mount, so server and browser agree.
  if (!parts || images === null) {
    return <div className="h-16 animate-pulse rounded bg-slate-100" />;
  }
  const html = inlineImages(showQuoted || !parts.hadQuote ? parts.full : parts.fresh, images);
  return (
    <div>
      <iframe
        title={t("thread.mailFrame")}
        sandbox=""
        srcDoc={frameDocument(html)}
        referrerPolicy="no-referrer"
        loading="lazy"
        data-testid="mail-frame"
        className="w-full resize-y rounded border-0 bg-white"
        style={{ height: estimateHeight(html) }}
      />
      {parts.hadQuote && <QuoteToggle open={showQuoted} onToggle={() => setShowQuoted(!showQuoted)} />}
    </div>
  );
}
