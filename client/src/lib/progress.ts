// Turns a step's counters into progress bars and plain figures. A counter `X_total` makes a
// bar with the first of `X_read`, `X_done`, `X_processed`, `X_written`, `X_upserted`, `X`
// that is present (e.g. bytes_read / bytes_total); every other number is a plain figure.

export type Bar = { key: string; label: string; done: number; total: number };
export type Figure = { key: string; value: number };
/** A nested counters object (e.g. one resource's progress inside a sync step). */
export type Group = { name: string; bars: Bar[]; figures: Figure[]; notes: [string, string][] };

const DONE_SUFFIXES = ["_read", "_done", "_processed", "_written", "_upserted", ""];

export function progressOf(counters: unknown): { bars: Bar[]; figures: Figure[] } {
  const entries =
    counters && typeof counters === "object" && !Array.isArray(counters)
      ? Object.entries(counters as Record<string, unknown>)
      : [];
  const numbers = new Map<string, number>();
  for (const [k, v] of entries) if (typeof v === "number" && Number.isFinite(v)) numbers.set(k, v);
  const used = new Set<string>();
  const bars: Bar[] = [];
  for (const [key, total] of numbers) {
    if (!key.endsWith("_total")) continue;
    const base = key.slice(0, -"_total".length);
    const doneKey = DONE_SUFFIXES.map((s) => base + s).find((k) => numbers.has(k));
    if (doneKey === undefined) continue;
    used.add(key).add(doneKey);
    bars.push({ key: doneKey, label: base, done: numbers.get(doneKey) ?? 0, total });
  }
  const figures = [...numbers]
    .filter(([k]) => !used.has(k))
    .map(([key, value]) => ({ key, value }));
  return { bars, figures };
}

export function percent(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  return Math.max(0, Math.min(100, (done / total) * 100));
}

/** Nested objects of the counters that carry numbers, each as its own bars and figures. */
export function groupsOf(counters: unknown): Group[] {
  if (!counters || typeof counters !== "object" || Array.isArray(counters)) return [];
  const groups: Group[] = [];
  for (const [name, value] of Object.entries(counters as Record<string, unknown>)) {
    if (!value || typeof value !== "object" || Array.isArray(value)) continue;
    const { bars, figures } = progressOf(value);
    if (bars.length === 0 && figures.length === 0) continue;
    const notes = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => typeof v === "string" || typeof v === "boolean")
      .map(([k, v]) => [k, String(v)] as [string, string]);
    groups.push({ name, bars, figures, notes });
  }
  return groups;
}
