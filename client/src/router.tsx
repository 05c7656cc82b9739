// Routes (TanStack Router, code-based). Each page is its own chunk, loaded when first
// visited, so the first page load carries only the shell.
import type { QueryClient } from "@tanstack/react-query";
import {
  createRootRouteWithContext,
  createRoute,
  createRouter,
  lazyRouteComponent,
  redirect,
  type RouterHistory,
} from "@tanstack/react-router";
import { Layout, NotFound } from "./Layout";
import { parseJobsSearch, parseOrdersSearch } from "./search";

const rootRoute = createRootRouteWithContext<{ queryClient: QueryClient }>()({
  component: Layout,
  notFoundComponent: NotFound,
});

const indexRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/",
  beforeLoad: () => {
    throw redirect({ to: "/health" });
  },
});

const healthRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/health",
  component: lazyRouteComponent(() => import("./pages/HealthPage")),
});

export const jobsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/jobs",
  validateSearch: parseJobsSearch,
  component: lazyRouteComponent(() => import("./pages/JobsPage")),
});

export const jobRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/jobs/$id",
  component: lazyRouteComponent(() => import("./pages/JobPage")),
});

export const ordersRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/orders",
  validateSearch: parseOrdersSearch,
  component: lazyRouteComponent(() => import("./pages/OrdersPage")),
});

export const orderRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: "/orders/$id",
  component: lazyRouteComponent(() => import("./pages/OrderPage")),
});

const routeTree = rootRoute.addChildren([indexRoute, healthRoute, jobsRoute, jobRoute, ordersRoute, orderRoute]);

export function makeRouter(queryClient: QueryClient, history?: RouterHistory) {
  return createRouter({
    routeTree,
    context: { queryClient },
    history,
    defaultPreload: "intent",
    scrollRestoration: true,
  });
}

declare module "@tanstack/react-router" {
  interface Register {
    router: ReturnType<typeof makeRouter>;
  }
}
