import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@testing-library/react";
import { afterEach, vi } from "vitest";
import { reportSignedIn } from "../api/session";

// Pages load on demand (lazy routes): the first `findBy*` of a file waits for the module
// too, which can take more than the default 1 s on a busy machine.
configure({ asyncUtilTimeout: 5000 });

// jsdom has no ResizeObserver (the chart's container uses it).
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

// jsdom does not implement scrolling (the router restores scroll positions).
window.scrollTo = () => {};

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  reportSignedIn();
});
