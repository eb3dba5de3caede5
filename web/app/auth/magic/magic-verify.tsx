"use client";

import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { AuthCard } from "@/components/auth-card";
import { api, unwrap } from "@/lib/api/client";
import { homeFor, safeNext } from "@/lib/auth";
import { useI18n, type UiLocale } from "@/lib/i18n";

/** `/auth/magic?token=...`: the link in the sign-in mail lands here; one use only. */
export function MagicVerify() {
  const { t, setLocale } = useI18n();
  const router = useRouter();
  const params = useSearchParams();
  const token = params.get("token");
  const [failed, setFailed] = useState(false);
  const started = useRef(false);

  useEffect(() => {
    // A token works once: never post it twice (React strict mode runs effects twice in dev).
    if (!token || started.current) return;
    started.current = true;
    unwrap(api().POST("/api/v1/auth/magic-link/verify", { body: { token } }))
      .then((result) => {
        setLocale(result.user.locale as UiLocale);
        router.replace(safeNext(params.get("next")) ?? homeFor(result.user));
      })
      .catch(() => setFailed(true));
  }, [token, params, router, setLocale]);

  return (
    <AuthCard title={t("login.title")}>
      {!token || failed ? (
        <div role="alert" className="space-y-4">
          <p className="text-sm text-red-700">{token ? t("magic.failed") : t("magic.missing")}</p>
          <Link href="/login?mode=magic" className="text-sm font-medium text-brand-600 hover:underline">
            {t("magic.again")}
          </Link>
        </div>
      ) : (
        <p role="status" className="text-sm text-slate-600">
          {t("magic.verifying")}
        </p>
      )}
    </AuthCard>
  );
}
