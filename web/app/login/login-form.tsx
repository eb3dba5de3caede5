"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { AuthCard } from "@/components/auth-card";
import { Button, Field, Input } from "@/components/ui";
import { ApiError, api, unwrap } from "@/lib/api/client";
import { homeFor, safeNext } from "@/lib/auth";
import { useI18n, type UiLocale } from "@/lib/i18n";

export function LoginForm() {
  const { t, setLocale } = useI18n();
  const router = useRouter();
  const params = useSearchParams();
  const [mode, setMode] = useState<"password" | "magic">(params.get("mode") === "magic" ? "magic" : "password");
  const [email, setEmail] = useState(params.get("email") ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ tone: "error" | "info"; text: string } | null>(null);

  async function signIn(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const result = await unwrap(api().POST("/api/v1/auth/login", { body: { email, password } }));
      setLocale(result.user.locale as UiLocale);
      router.replace(safeNext(params.get("next")) ?? homeFor(result.user));
    } catch (cause) {
      const status = cause instanceof ApiError ? cause.status : 0;
      setMessage({
        tone: "error",
        text:
          status === 401 || status === 400 || status === 422
            ? t("login.failed")
            : status === 429
              ? t("error.rateLimited")
              : t("error.network"),
      });
      setBusy(false);
    }
  }

  async function sendLink(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      await unwrap(api().POST("/api/v1/auth/magic-link", { body: { email } }));
      setMessage({ tone: "info", text: t("login.magicSent", { email }) });
    } catch (cause) {
      const status = cause instanceof ApiError ? cause.status : 0;
      setMessage({ tone: "error", text: status === 429 ? t("error.rateLimited") : t("error.title") });
    } finally {
      setBusy(false);
    }
  }

  const tab = (value: "password" | "magic", label: string) => (
    <button
      type="button"
      role="tab"
      aria-selected={mode === value}
      onClick={() => {
        setMode(value);
        setMessage(null);
      }}
      className={`flex-1 rounded-md px-2 py-1.5 text-sm ${
        mode === value ? "bg-white font-medium shadow-sm" : "text-slate-600"
      }`}
    >
      {label}
    </button>
  );

  return (
    <AuthCard title={t("login.title")} subtitle={t("login.subtitle")}>
      <div role="tablist" className="mb-5 flex gap-1 rounded-lg bg-slate-100 p-1">
        {tab("password", t("login.tabPassword"))}
        {tab("magic", t("login.tabMagic"))}
      </div>
      <form onSubmit={mode === "password" ? signIn : sendLink} className="space-y-4" noValidate={false}>
        <Field label={t("login.email")} htmlFor="email">
          <Input
            id="email"
            name="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </Field>
        {mode === "password" ? (
          <Field label={t("login.password")} htmlFor="password">
            <Input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </Field>
        ) : (
          <p className="text-sm text-slate-600">{t("login.magicHelp")}</p>
        )}
        {message && (
          <p
            role={message.tone === "error" ? "alert" : "status"}
            className={`rounded-md px-3 py-2 text-sm ${
              message.tone === "error" ? "bg-red-50 text-red-700" : "bg-emerald-50 text-emerald-800"
            }`}
          >
            {message.text}
          </p>
        )}
        <Button type="submit" variant="primary" className="w-full" disabled={busy}>
          {mode === "password"
            ? busy
              ? t("login.submitting")
              : t("login.submit")
            : t("login.magicSubmit")}
        </Button>
      </form>
    </AuthCard>
  );
}
