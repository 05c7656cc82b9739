import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// `npm run dev` serves the SPA with hot reload and proxies /api to the dashboard Worker
// that scripts/dev runs (API_URL overrides). `npm run build` writes dist/, which the
// Worker serves as static assets (wrangler.dashboard.toml [assets]).
const api = process.env.API_URL ?? "http://127.0.0.1:8787";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  // 127.0.0.1 (not localhost): the Access cookie is set for that host by the stand-in.
  server: { host: "127.0.0.1", port: 5173, proxy: { "/api": { target: api, changeOrigin: false } } },
  build: {
    target: "es2022",
    sourcemap: false,
    // The first page must stay small: pages and the chart library are split off.
    chunkSizeWarningLimit: 450,
    // dist/.vite/manifest.json: scripts/bundle-size.mjs reads the chunk graph from it.
    manifest: true,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
