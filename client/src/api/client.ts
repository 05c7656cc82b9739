// The typed API client: openapi-fetch over the paths in schema.d.ts (generated from the
// Worker's OpenAPI document; `npm run gen:api`). Every failure becomes an ApiError that
// carries the server's code, message and request id.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Execution = Schemas["Execution"];
export type StepExecution = Schemas["StepExecution"];
export type ExecutionStatus = Schemas["ExecutionStatus"];
export type ProbeReport = Schemas["ProbeReport"];
export type Principal = Schemas["Principal"];

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  /** Where a browser signs in (the 401 answer's x-access-login-url), if the API said. */
  readonly loginUrl: string | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    requestId: string | null;
    loginUrl?: string | null;
  }) {
    super(init.message);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.loginUrl = init.loginUrl ?? null;
  }

  get signedOut(): boolean {
    return this.status === 401;
  }
}

export const api = createClient<paths>({
  // Absolute, so it also works where Request needs one (tests); same origin in the browser.
  baseUrl: globalThis.location?.origin ?? "",
  // Same origin: the browser sends the Access cookie (CF_Authorization) by itself.
  credentials: "same-origin",
  fetch: (request) => globalThis.fetch(request),
});

type ErrorShape = { error?: { code?: string; message?: string; request_id?: string } };

/** Turns an openapi-fetch result into its data, or throws an ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  const { response } = result;
  if (response.ok && result.data !== undefined) return result.data;
  const body = (result.error ?? {}) as ErrorShape;
  throw new ApiError({
    status: response.status,
    code: body.error?.code ?? (response.status === 401 ? "unauthenticated" : "request_failed"),
    message:
      body.error?.message ??
      (response.ok ? "the answer was empty" : `${response.status} ${response.statusText}`.trim()),
    requestId: body.error?.request_id ?? response.headers.get("x-request-id"),
    loginUrl: response.headers.get("x-access-login-url"),
  });
}

/** A network failure (no answer at all) as an ApiError with status 0. */
export function networkError(cause: unknown): ApiError {
  return new ApiError({
    status: 0,
    code: "network_error",
    message: cause instanceof Error ? cause.message : String(cause),
    requestId: null,
  });
}

export async function call<T>(
  run: () => Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result;
  try {
    result = await run();
  } catch (e) {
    throw networkError(e);
  }
  return unwrap(result);
}
