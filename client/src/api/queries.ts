// TanStack Query options for each resource, so pages and tests share keys and fetchers.
import { queryOptions } from "@tanstack/react-query";
import { api, call } from "./client";
import type { paths } from "./schema";

export type JobListQuery = NonNullable<paths["/api/jobs"]["get"]["parameters"]["query"]>;
export type OrderListQuery = NonNullable<paths["/api/orders"]["get"]["parameters"]["query"]>;

export const TERMINAL = new Set(["succeeded", "failed"]);

export const meQuery = queryOptions({
  queryKey: ["me"],
  queryFn: () => call(() => api.GET("/api/me")),
  staleTime: 5 * 60_000,
});

export const healthQuery = queryOptions({
  queryKey: ["health", "details"],
  queryFn: () => call(() => api.GET("/api/health/details")),
  refetchInterval: 10_000,
});

export const jobsQuery = (query: JobListQuery) =>
  queryOptions({
    queryKey: ["jobs", "list", query],
    queryFn: () => call(() => api.GET("/api/jobs", { params: { query } })),
    // While something runs, keep the list fresh.
    refetchInterval: (q) =>
      q.state.data?.items.some((e) => !TERMINAL.has(e.status)) ? 3_000 : 15_000,
  });

export const jobQuery = (id: string) =>
  queryOptions({
    queryKey: ["jobs", "detail", id],
    queryFn: () => call(() => api.GET("/api/jobs/{id}", { params: { path: { id } } })),
    // Live progress: poll every 1.5 s until the execution is terminal.
    refetchInterval: (q) => {
      const status = q.state.data?.execution.status;
      return status && TERMINAL.has(status) ? false : 1_500;
    },
  });

export const ordersQuery = (query: OrderListQuery) =>
  queryOptions({
    queryKey: ["orders", "list", query],
    queryFn: () => call(() => api.GET("/api/orders", { params: { query } })),
  });

export const orderQuery = (id: string) =>
  queryOptions({
    queryKey: ["orders", "detail", id],
    queryFn: () => call(() => api.GET("/api/orders/{id}", { params: { path: { id } } })),
  });
