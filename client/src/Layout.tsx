// The shell: navigation, who is signed in, and the signed-out screen that replaces the
// page whenever the API answers 401.
import { useQuery } from "@tanstack/react-query";
import { Link, Outlet } from "@tanstack/react-router";
import type { ReactNode } from "react";
import { meQuery } from "./api/queries";
import { signInHref, useSession } from "./api/session";
import type { ApiError } from "./api/client";
import { Button, Empty } from "./components/ui";

const NAV: { to: "/health" | "/jobs" | "/orders"; label: string }[] = [
  { to: "/health", label: "Health" },
  { to: "/jobs", label: "Jobs" },
  { to: "/orders", label: "Orders" },
];

const COMING_SOON = ["Performance", "Combos", "Tags", "Assets", "Exports"];

function NavItem({ to, children }: { to: string; children: ReactNode }) {
  return (
    <Link
      to={to}
      className="block rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white focus-visible:outline-2 focus-visible:outline-indigo-400"
      activeProps={{ className: "bg-slate-800 text-white", "aria-current": "page" }}
    >
      {children}
    </Link>
  );
}

function WhoAmI() {
  const me = useQuery(meQuery);
  if (!me.data) return null;
  const who = me.data.kind === "user" ? me.data.email : me.data.kind === "service" ? me.data.common_name : me.data.name;
  return (
    <p className="truncate text-xs text-slate-400" title={who}>
      Signed in as <span data-testid="signed-in-as" className="text-slate-200">{who}</span>
    </p>
  );
}

export function SignedOut({ error }: { error: ApiError }) {
  const href = signInHref(error, window.location.href);
  return (
    <div role="alert" className="mx-auto mt-16 max-w-lg rounded-lg bg-white p-8 shadow-sm ring-1 ring-slate-200">
      <h1 className="text-xl font-semibold text-slate-900">Signed out, or no access</h1>
      <p className="mt-2 text-sm text-slate-600">
        The dashboard API did not accept your Cloudflare Access session ({error.message}). Sign in again; if
        that does not help, ask for access to this application.
      </p>
      <p className="mt-2 text-xs text-slate-500">
        Request id: <code data-testid="request-id">{error.requestId ?? "none"}</code>
      </p>
      <div className="mt-6 flex gap-2">
        {href ? (
          <a
            href={href}
            className="inline-flex items-center rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
          >
            Sign in
          </a>
        ) : null}
        <Button variant={href ? "secondary" : "primary"} onClick={() => window.location.reload()}>
          Reload
        </Button>
      </div>
    </div>
  );
}

export function Layout() {
  const session = useSession();
  return (
    <div className="flex min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:m-2 focus:rounded focus:bg-white focus:p-2">
        Skip to content
      </a>
      <aside className="flex w-56 shrink-0 flex-col bg-slate-900 px-3 py-4">
        <Link to="/health" className="mb-6 px-3 text-lg font-semibold text-white">
          Merch dashboard
        </Link>
        <nav aria-label="Main" className="flex flex-1 flex-col gap-1">
          {NAV.map((item) => (
            <NavItem key={item.to} to={item.to}>
              {item.label}
            </NavItem>
          ))}
          <p className="mt-6 px-3 text-xs font-semibold tracking-wide text-slate-500 uppercase">Coming soon</p>
          {COMING_SOON.map((label) => (
            <span
              key={label}
              aria-disabled="true"
              className="flex items-center justify-between rounded-md px-3 py-2 text-sm text-slate-500"
            >
              {label}
              <span className="rounded bg-slate-800 px-1.5 py-0.5 text-[10px] text-slate-400">soon</span>
            </span>
          ))}
        </nav>
        {!session.signedOut && <WhoAmI />}
      </aside>
      <main id="main" className="min-w-0 flex-1 px-8 py-6">
        {session.signedOut ? <SignedOut error={session.error} /> : <Outlet />}
      </main>
    </div>
  );
}

export function NotFound() {
  return (
    <Empty title="No such page">
      <Link to="/health" className="text-indigo-600 underline">
        Go to Health
      </Link>
    </Empty>
  );
}
