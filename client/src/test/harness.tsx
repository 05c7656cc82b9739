// Renders the whole app (real router, real query client) at a URL over a mocked fetch.
import { QueryClientProvider } from "@tanstack/react-query";
import { createMemoryHistory, RouterProvider } from "@tanstack/react-router";
import { render } from "@testing-library/react";
import { vi } from "vitest";
import { makeQueryClient } from "../queryClient";
import { makeRouter } from "../router";

export type Handler = (request: Request, url: URL) => Response | Promise<Response>;

export function json(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { "content-type": "application/json", "x-request-id": "req-test-1", ...(init.headers ?? {}) },
  });
}

export function apiError(status: number, code: string, message: string, requestId = "req-err-42", headers = {}) {
  return json({ error: { code, message, request_id: requestId } }, { status, headers: { "x-request-id": requestId, ...headers } });
}

export const ME = { kind: "user", email: "analyst@example.com", subject: "s-1" };

/** Routes "GET /api/me" style keys to handlers; anything unrouted answers 404. */
export function mockApi(routes: Record<string, Handler>) {
  const calls: Request[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    calls.push(request.clone());
    const url = new URL(request.url);
    const handler = routes[`${request.method} ${url.pathname}`];
    if (!handler) return apiError(404, "not_found", `no mock for ${request.method} ${url.pathname}`);
    return handler(request, url);
  });
  vi.stubGlobal("fetch", fetch);
  return { fetch, calls };
}

export function renderApp(url: string) {
  const queryClient = makeQueryClient({ retry: false });
  const router = makeRouter(queryClient, createMemoryHistory({ initialEntries: [url] }));
  const view = render(
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { ...view, router, queryClient };
}
