// Health: each EngineeredSystem's status and latency from GET /api/health/details,
// refreshed every 10 s, with a latency history chart (its library loads on its own).
import { useQuery } from "@tanstack/react-query";
import { createColumnHelper } from "@tanstack/react-table";
import { lazy, Suspense, useEffect, useRef, useState } from "react";
import type { ProbeReport } from "../api/client";
import { healthQuery } from "../api/queries";
import { DataTable } from "../components/DataTable";
import { Button, Card, ErrorPanel, Loading, PageHeader, StatusBadge } from "../components/ui";
import { formatDateTime, humanize } from "../lib/format";

const LatencyChart = lazy(() => import("../components/LatencyChart"));

export type LatencySample = { at: number } & Record<string, number>;
const HISTORY = 30;

const SYSTEM_LABELS: Record<string, string> = {
  postgres: "Postgres (Hyperdrive)",
  r2: "R2 bucket",
  kv: "KV namespace",
  queue: "Queue producer",
  ingest_worker: "Ingest Worker (service binding)",
};

function describe(detail: unknown): string {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail as Record<string, unknown>)
    .map(([k, v]) => `${humanize(k)}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

const column = createColumnHelper<ProbeReport>();
const columns = [
  column.accessor("system", {
    header: "System",
    cell: (c) => <span className="font-medium">{SYSTEM_LABELS[c.getValue()] ?? c.getValue()}</span>,
  }),
  column.accessor("status", { header: "Status", cell: (c) => <StatusBadge status={c.getValue()} /> }),
  column.accessor("latency_ms", {
    header: "Latency",
    cell: (c) => <span className="tabular-nums">{c.getValue().toFixed(1)} ms</span>,
  }),
  column.accessor("detail", {
    header: "Detail",
    cell: (c) => <span className="block max-w-md truncate text-slate-600" title={describe(c.getValue())}>{describe(c.getValue())}</span>,
  }),
];

export default function HealthPage() {
  const health = useQuery(healthQuery);
  const [history, setHistory] = useState<LatencySample[]>([]);
  const seen = useRef(0);

  useEffect(() => {
    if (!health.data || health.dataUpdatedAt === seen.current) return;
    seen.current = health.dataUpdatedAt;
    const sample: LatencySample = { at: health.dataUpdatedAt };
    for (const s of health.data.systems) sample[s.system] = Math.round(s.latency_ms * 10) / 10;
    setHistory((h) => [...h, sample].slice(-HISTORY));
  }, [health.data, health.dataUpdatedAt]);

  return (
    <>
      <PageHeader title="System health">
        {health.data && <StatusBadge status={health.data.status} />}
        <Button onClick={() => health.refetch()} disabled={health.isFetching}>
          {health.isFetching ? "Checking…" : "Check now"}
        </Button>
      </PageHeader>
      {health.isPending ? (
        <Loading label="Probing every system…" />
      ) : health.isError ? (
        <ErrorPanel error={health.error} onRetry={() => health.refetch()} />
      ) : (
        <div className="space-y-6">
          <p className="text-sm text-slate-600" data-testid="health-summary">
            {health.data.status === "ok" ? "All systems operational." : "Some systems are down."} Checked{" "}
            {formatDateTime(health.data.checked_at)}; refreshed every 10 s.
          </p>
          <DataTable data={health.data.systems} columns={columns} caption="Systems" rowTestId="system-row" />
          <Card title="Latency (ms), this session">
            {history.length < 2 ? (
              <p className="text-sm text-slate-500">The chart fills in as checks repeat.</p>
            ) : (
              <Suspense fallback={<Loading label="Loading the chart…" />}>
                <LatencyChart samples={history} systems={health.data.systems.map((s) => s.system)} />
              </Suspense>
            )}
          </Card>
        </div>
      )}
    </>
  );
}
