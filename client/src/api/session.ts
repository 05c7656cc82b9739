// The signed-out state: any API call answering 401 flips it, and the layout shows the
// sign-in screen instead of the page until a call succeeds again.
import { useSyncExternalStore } from "react";
import type { ApiError } from "./client";

export type Session = { signedOut: false } | { signedOut: true; error: ApiError };

let current: Session = { signedOut: false };
const listeners = new Set<() => void>();

export function reportSignedOut(error: ApiError) {
  if (current.signedOut && current.error === error) return;
  current = { signedOut: true, error };
  listeners.forEach((l) => l());
}

export function reportSignedIn() {
  if (!current.signedOut) return;
  current = { signedOut: false };
  listeners.forEach((l) => l());
}

export function useSession(): Session {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}

/** Where the sign-in button goes: the Access login page with a way back here. */
export function signInHref(error: ApiError, here: string): string | null {
  if (!error.loginUrl) return null;
  const sep = error.loginUrl.includes("?") ? "&" : "?";
  return `${error.loginUrl}${sep}redirect_url=${encodeURIComponent(here)}`;
}
