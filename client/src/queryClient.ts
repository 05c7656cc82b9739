import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api/client";
import { reportSignedIn, reportSignedOut } from "./api/session";

function onError(error: unknown) {
  if (error instanceof ApiError && error.signedOut) reportSignedOut(error);
}

export function makeQueryClient({ retry = true }: { retry?: boolean } = {}) {
  return new QueryClient({
    queryCache: new QueryCache({ onError, onSuccess: () => reportSignedIn() }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        // A 4xx will not change by asking again; a 5xx or a network failure may.
        retry: (count, error) =>
          retry && !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
        refetchOnWindowFocus: true,
      },
    },
  });
}
