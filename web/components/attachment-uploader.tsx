"use client";

import { Icon } from "./icons";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError } from "@/lib/api/client";
import type { Attachment } from "@/lib/api/types";
import { formatBytes, useI18n } from "@/lib/i18n";
import { uploadFile } from "@/lib/upload";

interface Item {
  key: string;
  file: File;
  progress: number;
  attachment?: Attachment;
  error?: string;
  controller: AbortController;
}

export interface UploadState {
  attachmentIds: number[];
  busy: boolean;
}

/**
 * Picks files and uploads each one at once, with a progress bar; the parent gets the ids of the
 * finished uploads and whether any is still running. `resetKey` changing empties the list.
 */
export function AttachmentUploader({
  onChange,
  resetKey,
  compact = false,
}: {
  onChange: (state: UploadState) => void;
  resetKey?: number;
  compact?: boolean;
}) {
  const { t } = useI18n();
  const [items, setItems] = useState<Item[]>([]);
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    setItems([]);
  }, [resetKey]);

  useEffect(() => {
    onChange({
      attachmentIds: items.filter((i) => i.attachment).map((i) => i.attachment!.id),
      busy: items.some((i) => !i.attachment && !i.error),
    });
  }, [items, onChange]);

  const update = useCallback((key: string, patch: Partial<Item>) => {
    setItems((list) => list.map((i) => (i.key === key ? { ...i, ...patch } : i)));
  }, []);

  function add(files: FileList | null) {
    if (!files) return;
    const added = Array.from(files).map((file) => ({
      key: `${file.name}-${file.size}-${Math.random().toString(36).slice(2)}`,
      file,
      progress: 0,
      controller: new AbortController(),
    }));
    setItems((list) => [...list, ...added]);
    for (const item of added) {
      uploadFile(item.file, (p) => update(item.key, { progress: p }), item.controller.signal)
        .then((attachment) => update(item.key, { attachment, progress: 1 }))
        .catch((cause: unknown) => {
          if (item.controller.signal.aborted) return;
          const text =
            cause instanceof ApiError && cause.code === "too_large"
              ? cause.message
              : cause instanceof ApiError && cause.status !== 0
                ? `${t("upload.failed")}: ${cause.message}`
                : t("upload.failed");
          update(item.key, { error: text });
        });
    }
    if (input.current) input.current.value = "";
  }

  function remove(item: Item) {
    item.controller.abort();
    setItems((list) => list.filter((i) => i.key !== item.key));
  }

  return (
    <div className="space-y-2">
      <label
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          add(e.dataTransfer.files);
        }}
        className={`flex cursor-pointer items-center justify-center gap-2 rounded-md border border-dashed text-sm text-slate-600 hover:border-brand-500 hover:text-brand-700 ${
          compact ? "px-3 py-2" : "px-4 py-5"
        } ${dragging ? "border-brand-500 bg-brand-50" : "border-slate-300 bg-white"}`}
      >
        <Icon name="paperclip" />
        <span>{compact ? t("upload.add") : t("upload.drop")}</span>
        <input
          ref={input}
          type="file"
          multiple
          className="sr-only"
          data-testid="file-input"
          onChange={(e) => add(e.target.files)}
        />
      </label>
      {items.length > 0 && (
        <ul className="space-y-1.5">
          {items.map((item) => (
            <li key={item.key} className="rounded-md border border-slate-200 bg-white px-3 py-2 text-sm" data-testid="upload-item">
              <div className="flex items-center justify-between gap-2">
                <span className="truncate">
                  {item.file.name} <span className="text-xs text-slate-400">{formatBytes(item.file.size)}</span>
                </span>
                <span className="flex items-center gap-2 text-xs">
                  {item.error ? (
                    <span className="text-red-600">{item.error}</span>
                  ) : item.attachment ? (
                    <span className="text-emerald-700" data-testid="upload-done">
                      {t("upload.done")}
                    </span>
                  ) : (
                    <span className="text-slate-500">
                      {t("upload.uploading", { percent: Math.round(item.progress * 100) })}
                    </span>
                  )}
                  <button
                    type="button"
                    onClick={() => remove(item)}
                    aria-label={t("upload.remove")}
                    className="rounded px-1 text-slate-400 hover:bg-slate-100 hover:text-slate-700"
                  >
                    <Icon name="x" className="h-3.5 w-3.5" />
                  </button>
                </span>
              </div>
              {!item.attachment && !item.error && (
                <div
                  role="progressbar"
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(item.progress * 100)}
                  aria-label={item.file.name}
                  className="mt-1.5 h-1.5 overflow-hidden rounded-full bg-slate-100"
                >
                  <div
                    className="h-full rounded-full bg-brand-500 transition-[width]"
                    style={{ width: `${Math.round(item.progress * 100)}%` }}
                  />
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
