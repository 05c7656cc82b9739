// "Start a job": the job types a user may start, each behind a confirmation dialog.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useId, useState } from "react";
import { api, call } from "../api/client";
import { jobTypeLabel } from "../lib/format";
import { ConfirmDialog } from "./ConfirmDialog";
import { Button, ErrorPanel, inputClass } from "./ui";

type Startable = { jobType: string; description: string; modes?: { value: string; label: string }[] };

export const STARTABLE: Startable[] = [
  {
    jobType: "PROCEDURE_EXECUTION_INITIATE",
    description:
      "Runs a Shopify bulk sync: exports orders from Shopify, downloads and parses the file, and updates the store tables.",
    modes: [
      { value: "incremental", label: "Incremental: orders changed since the last successful sync" },
      { value: "full", label: "Full: every order again" },
    ],
  },
  { jobType: "SYSTEM_SELF_CHECK", description: "Probes every system and records the results as steps." },
  { jobType: "MEASUREMENT_DATASET_REFRESH", description: "Rebuilds the performance measurement dataset." },
  { jobType: "ICE_HEALTH_CHECK", description: "Checks the design assets (the weekly cron job)." },
];

export function StartJobButton() {
  const [open, setOpen] = useState(false);
  const [jobType, setJobType] = useState(STARTABLE[0]!.jobType);
  const [mode, setMode] = useState("incremental");
  const selectId = useId();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const chosen = STARTABLE.find((s) => s.jobType === jobType) ?? STARTABLE[0]!;

  const start = useMutation({
    mutationFn: () =>
      call(() =>
        api.POST("/api/jobs", {
          body: { job_type: chosen.jobType, params: chosen.modes ? { mode } : {} },
        }),
      ),
    onSuccess: (started) => {
      setOpen(false);
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      void navigate({ to: "/jobs/$id", params: { id: started.execution_id } });
    },
  });

  return (
    <>
      <Button
        variant="primary"
        onClick={() => {
          start.reset();
          setOpen(true);
        }}
      >
        Start a job…
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Start a job"
        description="The job is queued at once and runs in the ingest Worker; you can watch its steps live."
        confirmLabel={`Start ${jobTypeLabel(chosen.jobType).toLowerCase()}`}
        onConfirm={() => start.mutate()}
        busy={start.isPending}
      >
        <div className="space-y-4">
          <div>
            <label htmlFor={selectId} className="block text-sm font-medium text-slate-700">
              Job
            </label>
            <select id={selectId} className={inputClass} value={jobType} onChange={(e) => setJobType(e.target.value)}>
              {STARTABLE.map((s) => (
                <option key={s.jobType} value={s.jobType}>
                  {jobTypeLabel(s.jobType)} ({s.jobType})
                </option>
              ))}
            </select>
            <p className="mt-1 text-sm text-slate-600">{chosen.description}</p>
          </div>
          {chosen.modes && (
            <fieldset>
              <legend className="text-sm font-medium text-slate-700">Mode</legend>
              {chosen.modes.map((m) => (
                <label key={m.value} className="mt-1 flex items-center gap-2 text-sm">
                  <input
                    type="radio"
                    name="mode"
                    value={m.value}
                    checked={mode === m.value}
                    onChange={() => setMode(m.value)}
                  />
                  {m.label}
                </label>
              ))}
            </fieldset>
          )}
          {start.isError && <ErrorPanel error={start.error} />}
        </div>
      </ConfirmDialog>
    </>
  );
}
