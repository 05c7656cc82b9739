import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { apiError, json, ME, mockApi, renderApp } from "./harness";

const systems = [
  { system: "postgres", status: "ok", latency_ms: 12.3, detail: { migration_version: 2, migrations_applied: 2 } },
  { system: "r2", status: "ok", latency_ms: 4.1, detail: { round_trip: "put/get/delete" } },
  { system: "kv", status: "ok", latency_ms: 3.2, detail: { round_trip: "put/get/delete" } },
  { system: "queue", status: "down", latency_ms: 1.5, detail: { error: "queue refused" } },
  { system: "ingest_worker", status: "ok", latency_ms: 8.8, detail: { status: "ok" } },
];

describe("Health page", () => {
  it("lists each system with its status and latency", async () => {
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/health/details": () => json({ status: "degraded", checked_at: "2026-05-01T10:00:00Z", systems }),
    });
    renderApp("/health");
    const rows = await screen.findAllByTestId("system-row");
    expect(rows).toHaveLength(5);
    expect(within(rows[0]!).getByText("Postgres (Hyperdrive)")).toBeInTheDocument();
    expect(within(rows[0]!).getByText("12.3 ms")).toBeInTheDocument();
    expect(within(rows[3]!).getByText("down")).toBeInTheDocument();
    expect(within(rows[3]!).getByText(/queue refused/)).toBeInTheDocument();
    expect(screen.getByTestId("health-summary")).toHaveTextContent("Some systems are down.");
  });

  it("shows the request id of a failed call", async () => {
    mockApi({
      "GET /api/me": () => json(ME),
      "GET /api/health/details": () => apiError(500, "internal_error", "internal error", "req-500-abc"),
    });
    renderApp("/health");
    const alert = await screen.findByRole("alert");
    expect(within(alert).getByText("The server could not answer")).toBeInTheDocument();
    expect(within(alert).getByTestId("request-id")).toHaveTextContent("req-500-abc");
    expect(within(alert).getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});
