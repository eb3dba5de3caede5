"use client";

import { Icon } from "./icons";
import Link from "next/link";
import { useEffect } from "react";
import { ApiError } from "@/lib/api/client";
import { useI18n } from "@/lib/i18n";
import { Button, Skeleton } from "./ui";

/** Every route segment's loading.tsx: the page's shape while its code and data arrive. */
export function SegmentLoading() {
  return (
    <div className="mx-auto w-full max-w-7xl px-4 py-6" data-testid="segment-loading">
      <div className="mb-6 h-7 w-48 animate-pulse rounded bg-slate-200" />
      <Skeleton lines={6} />
    </div>
  );
}

/** Every route segment's error.tsx: what failed, and a way to try again. */
export function SegmentError({ error, retry }: { error: unknown; retry: () => void }) {
  const { t } = useI18n();
  useEffect(() => {
    // Kept for the server log / devtools; the user sees the message below.
    if (!(error instanceof ApiError)) console.warn(error);
  }, [error]);
  const status = error instanceof ApiError ? error.status : -1;
  const title =
    status === 0 ? t("error.network") : status === 503 ? t("error.unavailable") : t("error.title");
  return (
    <div className="mx-auto w-full max-w-xl px-4 py-16 text-center" role="alert" data-testid="segment-error">
      <div className="mb-3 flex justify-center text-amber-500">
        <Icon name="alert" className="h-10 w-10" />
      </div>
      <h1 className="text-lg font-semibold">{title}</h1>
      <p className="mt-2 text-sm text-slate-600">{t("error.body")}</p>
      <div className="mt-6 flex justify-center gap-2">
        <Button variant="primary" onClick={() => retry()}>
          {t("common.retry")}
        </Button>
        <Link href="/" className="rounded-md px-3.5 py-2 text-sm text-slate-700 hover:bg-slate-100">
          {t("error.home")}
        </Link>
      </div>
    </div>
  );
}
