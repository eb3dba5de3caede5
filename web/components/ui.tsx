"use client";

import { Icon, type IconName } from "./icons";
import Link from "next/link";
import { useEffect } from "react";
import type { ButtonHTMLAttributes, ComponentProps, ReactNode } from "react";
import { ApiError } from "@/lib/api/client";
import { useI18n } from "@/lib/i18n";

type Variant = "primary" | "secondary" | "danger" | "ghost";
const VARIANTS: Record<Variant, string> = {
  primary: "bg-brand-600 text-white hover:bg-brand-700 disabled:bg-brand-600/50",
  secondary:
    "border border-slate-300 bg-white text-slate-800 hover:bg-slate-50 disabled:text-slate-400",
  danger: "bg-red-600 text-white hover:bg-red-700 disabled:bg-red-600/50",
  ghost: "text-slate-700 hover:bg-slate-100 disabled:text-slate-400",
};

export function Button({
  variant = "secondary",
  size = "md",
  className = "",
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; size?: "sm" | "md" }) {
  const sizing = size === "sm" ? "px-2.5 py-1 text-xs" : "px-3.5 py-2 text-sm";
  return (
    <button
      type="button"
      {...props}
      className={`inline-flex items-center justify-center gap-1.5 rounded-md font-medium transition-colors disabled:cursor-not-allowed ${sizing} ${VARIANTS[variant]} ${className}`}
    />
  );
}

export function ButtonLink({
  href,
  children,
  variant = "primary",
}: {
  href: string;
  children: ReactNode;
  variant?: Variant;
}) {
  return (
    <Link
      href={href}
      className={`inline-flex items-center justify-center gap-1.5 rounded-md px-3.5 py-2 text-sm font-medium ${VARIANTS[variant]}`}
    >
      {children}
    </Link>
  );
}

const FIELD =
  "block rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm placeholder:text-slate-400 focus:border-brand-500 focus:outline-none focus:ring-1 focus:ring-brand-500 disabled:bg-slate-100";

/** Full width unless the caller sets a width of its own. */
function fieldClass(extra: string | undefined, base = FIELD): string {
  const width = /(^|\s)(w-|min-w-|max-w-)/.test(extra ?? "") ? "" : "w-full";
  return `${base} ${width} ${extra ?? ""}`;
}

export function Input(props: ComponentProps<"input">) {
  return <input {...props} className={fieldClass(props.className)} />;
}

export function Textarea(props: ComponentProps<"textarea">) {
  return <textarea {...props} className={fieldClass(props.className)} />;
}

export function Select(props: ComponentProps<"select">) {
  return <select {...props} className={fieldClass(props.className, `${FIELD} pr-8`)} />;
}

export function Field({
  label,
  hint,
  htmlFor,
  children,
}: {
  label: string;
  hint?: string;
  htmlFor?: string;
  children: ReactNode;
}) {
  return (
    <div className="space-y-1">
      <label htmlFor={htmlFor} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      {children}
      {hint && <p className="text-xs text-slate-500">{hint}</p>}
    </div>
  );
}

export function Card({ children, className = "" }: { children: ReactNode; className?: string }) {
  return (
    <section className={`rounded-lg border border-slate-200 bg-white shadow-sm ${className}`}>
      {children}
    </section>
  );
}

export function PageHeader({
  title,
  actions,
  children,
}: {
  title: ReactNode;
  actions?: ReactNode;
  children?: ReactNode;
}) {
  return (
    <div className="mb-5 flex flex-wrap items-start justify-between gap-3">
      <div className="min-w-0">
        <h1 className="text-xl font-semibold tracking-tight text-slate-900">{title}</h1>
        {children}
      </div>
      {actions && <div className="flex items-center gap-2">{actions}</div>}
    </div>
  );
}

export function Skeleton({ lines = 5 }: { lines?: number }) {
  const { t } = useI18n();
  return (
    <div role="status" aria-busy="true" className="space-y-3" data-testid="skeleton">
      <span className="sr-only">{t("common.loading")}</span>
      {Array.from({ length: lines }, (_, i) => (
        <div
          key={i}
          className="h-9 animate-pulse rounded-md bg-slate-200/70"
          style={{ width: `${100 - ((i * 13) % 35)}%` }}
        />
      ))}
    </div>
  );
}

export function EmptyState({
  title,
  body,
  action,
  icon = "inbox",
}: {
  title: string;
  body?: string;
  action?: ReactNode;
  icon?: IconName;
}) {
  return (
    <div
      className="flex flex-col items-center justify-center rounded-lg border border-dashed border-slate-300 bg-white px-6 py-14 text-center"
      data-testid="empty-state"
    >
      <div className="mb-3 text-slate-400">
        <Icon name={icon} className="h-8 w-8" />
      </div>
      <p className="font-medium text-slate-800">{title}</p>
      {body && <p className="mt-1 max-w-md text-sm text-slate-500">{body}</p>}
      {action && <div className="mt-4">{action}</div>}
    </div>
  );
}

/** Explains an expected API failure (404/403/409...) in the page instead of crashing it. */
export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  const status = error instanceof ApiError ? error.status : 0;
  const title =
    status === 404
      ? t("error.notFound")
      : status === 403
        ? t("error.forbidden")
        : status === 429
          ? t("error.rateLimited")
          : status === 503
            ? t("error.unavailable")
            : status === 0
              ? t("error.network")
              : t("error.title");
  const body =
    status === 404
      ? t("error.notFoundBody")
      : error instanceof Error && status !== 0
        ? error.message
        : t("error.body");
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 px-5 py-4 text-sm">
      <p className="font-medium text-red-800">{title}</p>
      <p className="mt-1 text-red-700">{body}</p>
      {onRetry && (
        <Button className="mt-3" size="sm" onClick={onRetry}>
          {t("common.retry")}
        </Button>
      )}
    </div>
  );
}

export function Badge({ children, tone = "slate" }: { children: ReactNode; tone?: Tone }) {
  return (
    <span
      className={`inline-flex items-center whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ${TONES[tone]}`}
    >
      {children}
    </span>
  );
}

export type Tone = "slate" | "blue" | "green" | "amber" | "red" | "violet" | "gray";
const TONES: Record<Tone, string> = {
  slate: "bg-slate-100 text-slate-700",
  blue: "bg-blue-100 text-blue-800",
  green: "bg-emerald-100 text-emerald-800",
  amber: "bg-amber-100 text-amber-800",
  red: "bg-red-100 text-red-800",
  violet: "bg-violet-100 text-violet-800",
  gray: "bg-gray-100 text-gray-500",
};

export function Table({ children }: { children: ReactNode }) {
  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white shadow-sm">
      <table className="min-w-full divide-y divide-slate-200 text-sm">{children}</table>
    </div>
  );
}

export function Th({ children, className = "" }: { children?: ReactNode; className?: string }) {
  return (
    <th
      scope="col"
      className={`bg-slate-50 px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500 ${className}`}
    >
      {children}
    </th>
  );
}

export function Td({ children, className = "" }: { children?: ReactNode; className?: string }) {
  return <td className={`px-3 py-2 align-middle ${className}`}>{children}</td>;
}

export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const { t } = useI18n();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div
      className="fixed inset-0 z-40 flex items-center justify-center bg-slate-900/40 p-4"
      onMouseDown={(e) => e.target === e.currentTarget && onClose()}
    >
      <div
        role="dialog"
        aria-modal="true"
        aria-label={title}
        className="max-h-[90vh] w-full max-w-lg overflow-y-auto rounded-lg bg-white p-5 shadow-xl"
      >
        <div className="mb-4 flex items-center justify-between">
          <h2 className="text-lg font-semibold">{title}</h2>
          <Button variant="ghost" size="sm" onClick={onClose} aria-label={t("common.close")}>
            <Icon name="x" />
          </Button>
        </div>
        {children}
      </div>
    </div>
  );
}

/**
 * The states every list screen has: the failure (with retry), the skeleton while the first page
 * loads, the real empty state, or the list itself.
 */
export function ListStates<T>({
  items,
  error,
  onRetry,
  empty,
  children,
  lines,
}: {
  items: T[] | undefined;
  error: unknown;
  onRetry: () => void;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
  lines?: number;
}) {
  if (error) return <ErrorNotice error={error} onRetry={onRetry} />;
  if (items === undefined) return <Skeleton lines={lines} />;
  if (items.length === 0) return <>{empty}</>;
  return <>{children(items)}</>;
}

/** The "load more" button of a paged list (see lib/paged.ts), and what went wrong last time. */
export function LoadMore({
  list,
}: {
  list: { hasMore: boolean; loadingMore: boolean; moreError: unknown; loadMore: () => Promise<void> };
}) {
  const { t } = useI18n();
  if (!list.hasMore) return null;
  return (
    <div className="mt-4 space-y-2 text-center">
      {list.moreError !== null && <ErrorNotice error={list.moreError} />}
      <Button onClick={() => void list.loadMore()} disabled={list.loadingMore} data-testid="load-more">
        {t("queue.loadMore")}
      </Button>
    </div>
  );
}
