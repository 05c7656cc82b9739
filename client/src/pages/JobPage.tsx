// One execution: its steps with live progress (polled every 1.5 s until it is terminal),
// durations, attempts and errors.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { getRouteApi, Link } from "@tanstack/react-router";
import { useEffect, useState } from "react";
import { api, call, type StepExecution } from "../api/client";
import { jobQuery, TERMINAL } from "../api/queries";
import { Button, Card, Empty, ErrorPanel, Loading, PageHeader, ProgressBar, StatusBadge } from "../components/ui";
import { formatCounter, formatDateTime, formatDuration, humanize, jobTypeLabel } from "../lib/format";
import { groupsOf, progressOf, type Bar, type Figure } from "../lib/progress";

const route = getRouteApi("/jobs/$id");

/** Re-renders every second while `live`, so running durations tick. */
function useNow(live: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(t);
  }, [live]);
  return now;
}

function Bars({ bars }: { bars: Bar[] }) {
  return bars.map((b) => (
    <ProgressBar
      key={b.key}
      label={humanize(b.label)}
      done={b.done}
      total={b.total}
      valueText={`${formatCounter(b.key, b.done)} of ${formatCounter(b.key, b.total)}`}
    />
  ));
}

function Figures({ figures, scope }: { figures: Figure[]; scope?: string }) {
  return (
    <dl className="flex flex-wrap gap-x-6 gap-y-1 text-sm">
      {figures.map((f) => (
        <div key={f.key} className="flex gap-1.5">
          <dt className="text-slate-500">{humanize(f.key)}</dt>
          <dd className="font-medium tabular-nums" data-counter={scope ? `${scope}.${f.key}` : f.key}>
            {formatCounter(f.key, f.value)}
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Step({ step, position, now }: { step: StepExecution; position: number; now: number }) {
  const { bars, figures } = progressOf(step.counters);
  const groups = groupsOf(step.counters);
  const running = step.status === "running";
  return (
    <li className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200" data-testid="step" data-step={step.name}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h3 className="font-medium text-slate-900">
          <span className="mr-2 text-slate-400 tabular-nums">{position}.</span>
          {humanize(step.name)}
        </h3>
        <div className="flex items-center gap-3 text-sm text-slate-600">
          <span title="Attempts">
            {step.attempts} attempt{step.attempts === 1 ? "" : "s"}
          </span>
          <span className="tabular-nums">{formatDuration(step.started_at, step.finished_at, now)}</span>
          <StatusBadge status={step.status} />
        </div>
      </div>
      {(bars.length > 0 || running) && (
        <div className="mt-3 space-y-2">
          <Bars bars={bars} />
          {bars.length === 0 && running && <ProgressBar label="working" done={0} total={null} valueText="in progress" />}
        </div>
      )}
      {figures.length > 0 && (
        <div className="mt-3">
          <Figures figures={figures} />
        </div>
      )}
      {groups.length > 0 && (
        <div className="mt-3 grid gap-3 md:grid-cols-2">
          {groups.map((g) => (
            <div key={g.name} className="rounded-md bg-slate-50 p-3" data-testid="counter-group">
              <p className="mb-2 text-sm font-medium text-slate-800">
                {humanize(g.name)}
                {g.notes.map(([k, v]) => (
                  <span key={k} className="ml-2 text-xs font-normal text-slate-500">
                    {humanize(k)}: {v}
                  </span>
                ))}
              </p>
              <div className="space-y-2">
                <Bars bars={g.bars} />
                <Figures figures={g.figures} scope={g.name} />
              </div>
            </div>
          ))}
        </div>
      )}
      {step.error_code && (
        <p className="mt-3 rounded bg-red-50 p-2 text-sm text-red-800">
          <code>{step.error_code}</code>: {step.error_message}
        </p>
      )}
    </li>
  );
}

export default function JobPage() {
  const { id } = route.useParams();
  const queryClient = useQueryClient();
  const job = useQuery(jobQuery(id));
  const live = Boolean(job.data && !TERMINAL.has(job.data.execution.status));
  const now = useNow(live);
  const dispatch = useMutation({
    mutationFn: () => call(() => api.POST("/api/jobs/{id}/dispatch", { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["jobs", "detail", id] }),
  });

  if (job.isPending) return <Loading label="Loading the execution…" />;
  if (job.isError)
    return (
      <>
        <PageHeader title="Execution" />
        <ErrorPanel error={job.error} onRetry={() => job.refetch()} />
      </>
    );
  const { execution, steps } = job.data;
  const params = Object.keys(execution.params ?? {}).length ? JSON.stringify(execution.params) : "none";

  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/jobs" className="text-indigo-700 hover:underline">
          ← Jobs
        </Link>
      </nav>
      <PageHeader title={jobTypeLabel(execution.job_type)}>
        <span data-testid="execution-status">
          <StatusBadge status={execution.status} />
        </span>
        {live && (
          <Button onClick={() => dispatch.mutate()} disabled={dispatch.isPending} title="Send the queue message again">
            Dispatch again
          </Button>
        )}
      </PageHeader>
      {dispatch.isError && <ErrorPanel error={dispatch.error} />}
      <Card className="mb-6">
        <dl className="grid grid-cols-1 gap-x-8 gap-y-2 text-sm sm:grid-cols-2 lg:grid-cols-3">
          {[
            ["Execution", <code key="id" className="text-xs">{execution.id}</code>],
            ["Job type", execution.job_type],
            ["Parameters", <code key="p">{params}</code>],
            ["Trigger", `${execution.trigger} (${execution.principal_kind} ${execution.principal_id})`],
            ["Created", formatDateTime(execution.created_at)],
            ["Started", formatDateTime(execution.started_at)],
            ["Finished", formatDateTime(execution.finished_at)],
            ["Duration", formatDuration(execution.started_at, execution.finished_at, now)],
            ["Attempts / deliveries", `${execution.attempts} / ${execution.deliveries}`],
          ].map(([k, v]) => (
            <div key={String(k)}>
              <dt className="text-slate-500">{k}</dt>
              <dd className="font-medium text-slate-900">{v}</dd>
            </div>
          ))}
        </dl>
        {execution.error_code && (
          <p role="alert" className="mt-4 rounded bg-red-50 p-3 text-sm text-red-800">
            <code>{execution.error_code}</code>: {execution.error_message}
          </p>
        )}
      </Card>
      <h2 className="mb-3 text-lg font-semibold text-slate-900">Steps</h2>
      {steps.length === 0 ? (
        <Empty title={live ? "Waiting for the first step…" : "No step was recorded"}>
          {live ? "The ingest Worker picks the job up from the queue within seconds." : null}
        </Empty>
      ) : (
        <ol className="space-y-3">
          {steps.map((s, i) => (
            <Step key={s.ordinal} step={s} position={i + 1} now={now} />
          ))}
        </ol>
      )}
      {live && (
        <p className="mt-4 text-xs text-slate-500" aria-live="polite">
          Live: refreshing every 1.5 s until the execution finishes.
        </p>
      )}
    </>
  );
}
