// Display helpers shared by the pages.

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** "1.2 s", "3 min 4 s", "1 h 2 min"; live (until now) when `to` is missing. */
export function formatDuration(fromIso: string | null | undefined, toIso?: string | null, now = Date.now()): string {
  if (!fromIso) return "—";
  const from = new Date(fromIso).getTime();
  const to = toIso ? new Date(toIso).getTime() : now;
  const ms = Math.max(0, to - from);
  if (ms < 1_000) return `${ms} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m - h * 60} min`;
}

export function formatNumber(n: number): string {
  return n.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A counter's value in its unit: bytes for *bytes* keys, plain numbers otherwise. */
export function formatCounter(key: string, n: number): string {
  return key.includes("bytes") ? formatBytes(n) : formatNumber(n);
}

export function formatMoney(amount: string, currency: string): string {
  const n = Number(amount);
  if (!Number.isFinite(n)) return `${amount} ${currency}`;
  try {
    return n.toLocaleString(undefined, { style: "currency", currency });
  } catch {
    return `${amount} ${currency}`;
  }
}

export function humanize(key: string): string {
  return key.replace(/_/g, " ");
}

/** "SYSTEM_SELF_CHECK" → "System self check". */
export function jobTypeLabel(jobType: string): string {
  const known: Record<string, string> = {
    PROCEDURE_EXECUTION_INITIATE: "Shopify sync",
    MEASUREMENT_DATASET_REFRESH: "Measurement dataset refresh",
    ICE_HEALTH_CHECK: "Asset health check",
    SYSTEM_SELF_CHECK: "System self-check",
    ENGINE_DRILL: "Engine drill",
  };
  return known[jobType] ?? jobType;
}
