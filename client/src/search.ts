// URL search parameters of the list pages, parsed at the edge (links and reloads keep the
// filters). Unknown or malformed values are dropped, not trusted.

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function day(v: unknown): string | undefined {
  const s = str(v);
  return s && DAY.test(s) ? s : undefined;
}

export const JOB_STATUSES = ["queued", "running", "retrying", "succeeded", "failed"] as const;

export type JobsSearch = {
  job_type?: string;
  status?: (typeof JOB_STATUSES)[number];
  from?: string;
  to?: string;
  offset?: number;
};

export function parseJobsSearch(raw: Record<string, unknown>): JobsSearch {
  const status = str(raw.status);
  const offset = Number(raw.offset);
  const jobType = str(raw.job_type);
  return {
    job_type: jobType && /^[A-Z_]{1,64}$/.test(jobType) ? jobType : undefined,
    status: (JOB_STATUSES as readonly string[]).includes(status ?? "") ? (status as JobsSearch["status"]) : undefined,
    from: day(raw.from),
    to: day(raw.to),
    offset: Number.isInteger(offset) && offset > 0 ? offset : undefined,
  };
}

export type OrdersSearch = {
  name?: string;
  email?: string;
  from?: string;
  to?: string;
  cursor?: string;
};

export function parseOrdersSearch(raw: Record<string, unknown>): OrdersSearch {
  return {
    name: str(raw.name),
    email: str(raw.email),
    from: day(raw.from),
    to: day(raw.to),
    cursor: str(raw.cursor),
  };
}

/** A local calendar day's start as RFC 3339 (the jobs API filters on instants). */
export function dayStart(d: string): string {
  const [y, m, dd] = d.split("-").map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, dd ?? 1).toISOString();
}

/** The instant after a local calendar day (for an inclusive "to"). */
export function dayEnd(d: string): string {
  const [y, m, dd] = d.split("-").map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, (dd ?? 1) + 1).toISOString();
}
