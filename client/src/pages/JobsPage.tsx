// Jobs: executions from GET /api/jobs, filtered by job type, status and creation date
// (kept in the URL), newest first, with a button to start a job.
import { useQuery } from "@tanstack/react-query";
import { createColumnHelper } from "@tanstack/react-table";
import { getRouteApi, Link, useNavigate } from "@tanstack/react-router";
import { useId, useState, type FormEvent } from "react";
import type { Execution } from "../api/client";
import { jobsQuery, type JobListQuery } from "../api/queries";
import { DataTable } from "../components/DataTable";
import { StartJobButton, STARTABLE } from "../components/StartJob";
import { Button, Empty, ErrorPanel, inputClass, Loading, PageHeader, StatusBadge } from "../components/ui";
import { formatDateTime, formatDuration, jobTypeLabel } from "../lib/format";
import { dayEnd, dayStart, JOB_STATUSES, type JobsSearch } from "../search";

const route = getRouteApi("/jobs");
const PAGE = 25;
const JOB_TYPES = [...STARTABLE.map((s) => s.jobType), "ENGINE_DRILL"];

const column = createColumnHelper<Execution>();
const columns = [
  column.accessor("job_type", {
    header: "Job",
    cell: (c) => (
      <Link
        to="/jobs/$id"
        params={{ id: c.row.original.id }}
        className="font-medium text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-600"
      >
        {jobTypeLabel(c.getValue())}
      </Link>
    ),
  }),
  column.accessor("status", { header: "Status", cell: (c) => <StatusBadge status={c.getValue()} /> }),
  column.accessor("trigger", { header: "Trigger" }),
  column.accessor("principal_id", { header: "By" }),
  column.accessor("created_at", { header: "Created", cell: (c) => formatDateTime(c.getValue()) }),
  column.display({
    id: "duration",
    header: "Duration",
    cell: (c) => formatDuration(c.row.original.started_at, c.row.original.finished_at),
  }),
  column.accessor("attempts", { header: "Attempts" }),
  column.accessor("error_code", {
    header: "Error",
    cell: (c) => (c.getValue() ? <code className="text-red-700">{c.getValue()}</code> : ""),
  }),
];

function toQuery(search: JobsSearch): JobListQuery {
  return {
    job_type: search.job_type,
    status: search.status,
    created_after: search.from ? dayStart(search.from) : undefined,
    created_before: search.to ? dayEnd(search.to) : undefined,
    limit: PAGE,
    offset: search.offset,
  };
}

function Filters({ search }: { search: JobsSearch }) {
  const navigate = useNavigate({ from: "/jobs" });
  const [draft, setDraft] = useState(search);
  const ids = { type: useId(), status: useId(), from: useId(), to: useId() };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void navigate({ search: { ...draft, offset: undefined } });
  };
  return (
    <form onSubmit={submit} className="mb-4 flex flex-wrap items-end gap-3" aria-label="Filter executions">
      <div>
        <label htmlFor={ids.type} className="block text-xs font-medium text-slate-600">
          Job type
        </label>
        <select
          id={ids.type}
          className={inputClass}
          value={draft.job_type ?? ""}
          onChange={(e) => setDraft({ ...draft, job_type: e.target.value || undefined })}
        >
          <option value="">Any</option>
          {JOB_TYPES.map((t) => (
            <option key={t} value={t}>
              {jobTypeLabel(t)}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={ids.status} className="block text-xs font-medium text-slate-600">
          Status
        </label>
        <select
          id={ids.status}
          className={inputClass}
          value={draft.status ?? ""}
          onChange={(e) => setDraft({ ...draft, status: (e.target.value || undefined) as JobsSearch["status"] })}
        >
          <option value="">Any</option>
          {JOB_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={ids.from} className="block text-xs font-medium text-slate-600">
          Created from
        </label>
        <input
          id={ids.from}
          type="date"
          className={inputClass}
          value={draft.from ?? ""}
          onChange={(e) => setDraft({ ...draft, from: e.target.value || undefined })}
        />
      </div>
      <div>
        <label htmlFor={ids.to} className="block text-xs font-medium text-slate-600">
          Created to
        </label>
        <input
          id={ids.to}
          type="date"
          className={inputClass}
          value={draft.to ?? ""}
          onChange={(e) => setDraft({ ...draft, to: e.target.value || undefined })}
        />
      </div>
      <Button type="submit" variant="primary">
        Apply
      </Button>
      <Button
        onClick={() => {
          setDraft({});
          void navigate({ search: {} });
        }}
      >
        Clear
      </Button>
    </form>
  );
}

export default function JobsPage() {
  const search = route.useSearch();
  const navigate = useNavigate({ from: "/jobs" });
  const jobs = useQuery(jobsQuery(toQuery(search)));
  const offset = search.offset ?? 0;
  const filtered = Boolean(search.job_type || search.status || search.from || search.to);

  return (
    <>
      <PageHeader title="Jobs">
        <StartJobButton />
      </PageHeader>
      <Filters key={JSON.stringify(search)} search={search} />
      {jobs.isPending ? (
        <Loading label="Loading executions…" />
      ) : jobs.isError ? (
        <ErrorPanel error={jobs.error} onRetry={() => jobs.refetch()} />
      ) : jobs.data.items.length === 0 ? (
        <Empty title={filtered ? "No execution matches these filters" : "No job has run yet"}>
          {filtered ? "Clear the filters to see every execution." : "Start one with the button above."}
        </Empty>
      ) : (
        <>
          <DataTable data={jobs.data.items} columns={columns} caption="Executions, newest first" rowTestId="job-row" />
          <nav aria-label="Pages" className="mt-3 flex items-center justify-between text-sm text-slate-600">
            <span>
              {offset + 1}–{offset + jobs.data.items.length} of {jobs.data.total}
            </span>
            <span className="flex gap-2">
              <Button
                disabled={offset === 0}
                onClick={() => navigate({ search: { ...search, offset: Math.max(0, offset - PAGE) || undefined } })}
              >
                Previous
              </Button>
              <Button
                disabled={offset + jobs.data.items.length >= jobs.data.total}
                onClick={() => navigate({ search: { ...search, offset: offset + PAGE } })}
              >
                Next
              </Button>
            </span>
          </nav>
        </>
      )}
    </>
  );
}
