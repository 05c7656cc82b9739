import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { json, ME, mockApi, renderApp } from "./harness";

const ID = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee";

function execution(overrides: Record<string, unknown> = {}) {
  return {
    id: ID,
    job_type: "PROCEDURE_EXECUTION_INITIATE",
    trigger: "user",
    principal_kind: "user",
    principal_id: "analyst@example.com",
    dedupe_key: null,
    params: { mode: "full" },
    status: "running",
    attempts: 1,
    deliveries: 1,
    counters: {},
    error_code: null,
    error_message: null,
    created_at: "2026-05-01T10:00:00Z",
    started_at: "2026-05-01T10:00:01Z",
    finished_at: null,
    updated_at: "2026-05-01T10:00:02Z",
    ...overrides,
  };
}

function step(overrides: Record<string, unknown>) {
  return {
    ordinal: 1,
    name: "download",
    status: "running",
    attempts: 1,
    counters: {},
    output: null,
    error_code: null,
    error_message: null,
    started_at: "2026-05-01T10:00:01Z",
    finished_at: null,
    ...overrides,
  };
}

describe("Jobs list", () => {
  it("passes the URL's filters to the API and lists the executions", async () => {
    const { calls } = mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/jobs": () => json({ items: [execution({ status: "succeeded" })], total: 1, limit: 25, offset: 0 }),
    });
    renderApp("/jobs?job_type=PROCEDURE_EXECUTION_INITIATE&status=succeeded&from=2026-05-01&to=2026-05-02");
    const rows = await screen.findAllByTestId("job-row");
    expect(rows).toHaveLength(1);
    expect(within(rows[0]!).getByRole("link", { name: "Shopify sync" })).toHaveAttribute("href", `/jobs/${ID}`);
    const url = new URL(calls.find((r) => r.url.includes("/api/jobs"))!.url);
    expect(url.searchParams.get("job_type")).toBe("PROCEDURE_EXECUTION_INITIATE");
    expect(url.searchParams.get("status")).toBe("succeeded");
    expect(url.searchParams.get("created_after")).toBe(new Date(2026, 4, 1).toISOString());
    expect(url.searchParams.get("created_before")).toBe(new Date(2026, 4, 3).toISOString());
    expect(url.searchParams.get("limit")).toBe("25");
  });

  it("says so when nothing matches", async () => {
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/jobs": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
    });
    renderApp("/jobs?status=failed");
    expect(await screen.findByText("No execution matches these filters")).toBeInTheDocument();
  });

  it("starts a Shopify sync after confirmation and opens its page", async () => {
    const user = userEvent.setup();
    let body: unknown = null;
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/jobs": () => json({ items: [], total: 0, limit: 25, offset: 0 }),
      "POST /api/jobs": async (request) => {
        body = await request.json();
        return json({ execution_id: ID, job_type: "PROCEDURE_EXECUTION_INITIATE", status: "queued", href: `/api/jobs/${ID}` }, { status: 202 });
      },
      [`GET /api/jobs/${ID}`]: () => json({ execution: execution({ status: "queued", started_at: null }), steps: [] }),
    });
    const { router } = renderApp("/jobs");
    await user.click(await screen.findByRole("button", { name: "Start a job…" }));
    const dialog = await screen.findByRole("dialog", { name: "Start a job" });
    await user.click(within(dialog).getByRole("radio", { name: /Full/ }));
    await user.click(within(dialog).getByRole("button", { name: "Start shopify sync" }));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/jobs/${ID}`));
    expect(body).toEqual({ job_type: "PROCEDURE_EXECUTION_INITIATE", params: { mode: "full" } });
    expect(await screen.findByText("Waiting for the first step…")).toBeInTheDocument();
  });
});

describe("Execution page", () => {
  it("shows live progress from step counters, then the finished state", async () => {
    let polls = 0;
    mockApi({
      "GET /api/me": () => json(ME),
      [`GET /api/jobs/${ID}`]: () => {
        polls++;
        if (polls === 1) {
          return json({
            execution: execution(),
            steps: [
              step({ ordinal: 1, name: "initiate", status: "succeeded", finished_at: "2026-05-01T10:00:02Z" }),
              step({ ordinal: 2, name: "download", counters: { bytes_read: 1024, bytes_total: 4096, lines: 12 } }),
            ],
          });
        }
        return json({
          execution: execution({ status: "succeeded", finished_at: "2026-05-01T10:01:00Z" }),
          steps: [
            step({ ordinal: 1, name: "initiate", status: "succeeded", finished_at: "2026-05-01T10:00:02Z" }),
            step({
              ordinal: 2,
              name: "download",
              status: "succeeded",
              counters: { bytes_read: 4096, bytes_total: 4096, lines: 48 },
              finished_at: "2026-05-01T10:01:00Z",
            }),
          ],
        });
      },
    });
    renderApp(`/jobs/${ID}`);
    const bar = await screen.findByRole("progressbar", { name: "bytes" });
    expect(bar).toHaveAttribute("aria-valuenow", "25");
    expect(bar).toHaveAttribute("aria-valuetext", "1.0 KiB of 4.0 KiB");
    // The page polls while the execution runs; the second answer is terminal.
    await waitFor(() => expect(screen.getByRole("progressbar", { name: "bytes" })).toHaveAttribute("aria-valuenow", "100"), {
      timeout: 4000,
    });
    expect(within(screen.getByTestId("execution-status")).getByText("succeeded")).toBeInTheDocument();
    expect(screen.getByText("48")).toHaveAttribute("data-counter", "lines");
    expect(screen.getAllByText("59.0 s")).toHaveLength(2); // the execution and its download step
  });

  it("shows a failed step's error", async () => {
    mockApi({
      "GET /api/me": () => json(ME),
      [`GET /api/jobs/${ID}`]: () =>
        json({
          execution: execution({ status: "failed", error_code: "bulk_failed", error_message: "Shopify said ACCESS_DENIED", finished_at: "2026-05-01T10:00:05Z" }),
          steps: [step({ status: "failed", attempts: 3, error_code: "bulk_failed", error_message: "Shopify said ACCESS_DENIED" })],
        }),
    });
    renderApp(`/jobs/${ID}`);
    expect(await screen.findByRole("alert")).toHaveTextContent("bulk_failed: Shopify said ACCESS_DENIED");
    expect(screen.getByText("3 attempts")).toBeInTheDocument();
  });
});
