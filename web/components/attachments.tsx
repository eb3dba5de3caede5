"use client";

import { apiUrl } from "@/lib/api/client";
import type { Attachment } from "@/lib/api/types";
import { formatBytes, useI18n } from "@/lib/i18n";

function withQuery(url: string, query: string): string {
  return url + (url.includes("?") ? "&" : "?") + query;
}

export function previewable(a: Pick<Attachment, "content_type">): boolean {
  return /^image\/(png|jpe?g|gif|webp)$/.test(a.content_type) || a.content_type === "application/pdf";
}

export function AttachmentList({ attachments }: { attachments: Attachment[] }) {
  const { t } = useI18n();
  const shown = attachments.filter((a) => !a.is_inline || !a.content_id);
  if (shown.length === 0) return null;
  // Two files of the same name (a mail with two "image.png"): told apart on screen, while the
  // stored and downloaded name stays the one the sender gave.
  const seen = new Map<string, number>();
  const ordinal = new Map<number, number>();
  for (const a of shown) {
    const n = (seen.get(a.filename) ?? 0) + 1;
    seen.set(a.filename, n);
    ordinal.set(a.id, n);
  }
  return (
    <ul className="mt-3 flex flex-wrap gap-2" aria-label={t("thread.attachments")}>
      {shown.map((a) => {
        const href = apiUrl(a.download_url);
        const isImage = a.content_type.startsWith("image/") && previewable(a);
        return (
          <li
            key={a.id}
            className="flex items-center gap-2 rounded-md border border-slate-200 bg-slate-50 px-2 py-1.5 text-sm"
            data-testid="attachment"
          >
            {isImage && (
              // eslint-disable-next-line @next/next/no-img-element -- permission-checked API URL
              <img
                src={withQuery(href, "inline=1")}
                alt=""
                loading="lazy"
                className="h-10 w-10 rounded object-cover"
              />
            )}
            <span className="max-w-56 truncate" title={a.filename}>
              {a.filename}
            </span>
            {(seen.get(a.filename) ?? 0) > 1 && (
              <span className="text-xs text-slate-700" data-testid="attachment-same-name">
                ({t("thread.sameName", { index: String(ordinal.get(a.id)) })})
              </span>
            )}
            <span className="text-xs text-slate-400">{formatBytes(a.size)}</span>
            {previewable(a) && (
              <a
                href={withQuery(href, "inline=1")}
                target="_blank"
                rel="noopener noreferrer"
                className="text-xs text-brand-600 hover:underline"
              >
                {t("common.preview")}
              </a>
            )}
            <a href={href} download={a.filename} className="text-xs text-brand-600 hover:underline" data-testid="attachment-download">
              {t("common.download")}
            </a>
          </li>
        );
      })}
    </ul>
  );
}

export { withQuery };
