// Small building blocks: buttons, status badges, progress bars, loading / empty / error
// states. Styling is Tailwind; every control is a real button, link or input.
import type { ButtonHTMLAttributes, ReactNode } from "react";
import { ApiError } from "../api/client";
import { percent } from "../lib/progress";

export function cx(...classes: (string | false | null | undefined)[]): string {
  return classes.filter(Boolean).join(" ");
}

type Variant = "primary" | "secondary" | "danger";

export function Button({
  variant = "secondary",
  className,
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant }) {
  return (
    <button
      type="button"
      {...props}
      className={cx(
        "inline-flex items-center gap-2 rounded-md px-3 py-1.5 text-sm font-medium shadow-sm",
        "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600",
        "disabled:cursor-not-allowed disabled:opacity-50",
        variant === "primary" && "bg-indigo-600 text-white hover:bg-indigo-500",
        variant === "secondary" && "bg-white text-slate-900 ring-1 ring-slate-300 ring-inset hover:bg-slate-50",
        variant === "danger" && "bg-red-600 text-white hover:bg-red-500",
        className,
      )}
    />
  );
}

const STATUS_STYLES: Record<string, string> = {
  ok: "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
  succeeded: "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
  down: "bg-red-50 text-red-800 ring-red-600/30",
  degraded: "bg-red-50 text-red-800 ring-red-600/30",
  failed: "bg-red-50 text-red-800 ring-red-600/30",
  running: "bg-sky-50 text-sky-800 ring-sky-600/30",
  retrying: "bg-amber-50 text-amber-800 ring-amber-600/30",
  queued: "bg-slate-100 text-slate-700 ring-slate-500/30",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span
      data-status={status}
      className={cx(
        "inline-flex items-center rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset",
        STATUS_STYLES[status] ?? "bg-slate-100 text-slate-700 ring-slate-500/30",
      )}
    >
      {status}
    </span>
  );
}

export function ProgressBar({
  label,
  done,
  total,
  valueText,
}: {
  label: string;
  done: number;
  total: number | null;
  valueText: string;
}) {
  const pct = total === null ? null : percent(done, total);
  return (
    <div className="w-full">
      <div className="mb-1 flex justify-between text-xs text-slate-600">
        <span>{label}</span>
        <span>{valueText}</span>
      </div>
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct === null ? undefined : Math.round(pct)}
        aria-valuetext={valueText}
        className="h-2 w-full overflow-hidden rounded-full bg-slate-200"
      >
        <div
          className={cx("h-full rounded-full bg-indigo-600 transition-[width]", pct === null && "w-1/3 animate-pulse")}
          style={pct === null ? undefined : { width: `${pct}%` }}
        />
      </div>
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-3 p-6 text-sm text-slate-600">
      <span className="size-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" aria-hidden />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center">
      <p className="font-medium text-slate-900">{title}</p>
      {children && <div className="mt-1 text-sm text-slate-600">{children}</div>}
    </div>
  );
}

export function ErrorPanel({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const api = error instanceof ApiError ? error : null;
  const title =
    api?.status === 404
      ? "Not found"
      : api?.status === 0
        ? "The dashboard API could not be reached"
        : api && api.status >= 500
          ? "The server could not answer"
          : "The request failed";
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-900">
      <p className="font-semibold">{title}</p>
      <p className="mt-1">{error instanceof Error ? error.message : String(error)}</p>
      {api && (
        <dl className="mt-2 grid grid-cols-[max-content_1fr] gap-x-3 gap-y-1 text-xs text-red-800">
          <dt>Code</dt>
          <dd>
            <code>{api.code}</code>
            {api.status > 0 && ` (HTTP ${api.status})`}
          </dd>
          <dt>Request id</dt>
          <dd>
            <code data-testid="request-id">{api.requestId ?? "none"}</code>
          </dd>
        </dl>
      )}
      {onRetry && (
        <Button className="mt-3" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
      {children && <div className="flex items-center gap-2">{children}</div>}
    </div>
  );
}

export function Card({ title, children, className }: { title?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={cx("rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200", className)}>
      {title && <h2 className="mb-3 text-base font-semibold text-slate-900">{title}</h2>}
      {children}
    </section>
  );
}

export const inputClass =
  "block w-full rounded-md border-0 bg-white px-2.5 py-1.5 text-sm text-slate-900 ring-1 ring-slate-300 ring-inset focus:ring-2 focus:ring-indigo-600";
