#!/usr/bin/env node
// Measures what the browser downloads for the first page: the JS that dist/index.html loads
// initially (the entry chunk and every chunk it imports statically, per Vite's manifest),
// gzip-compressed (level 9, as served). Also prints the first route's total (entry + the
// Health page's lazily loaded chunks). Fails above the budget (default 300 KiB).
//
//   node scripts/bundle-size.mjs [BUDGET_KIB]      (after `npm run build`)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const budgetKiB = Number(process.argv[2] ?? 300);
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const html = readFileSync(join(dist, "index.html"), "utf8");

/** Chunk keys reachable from `start` through static imports. */
function closure(start) {
  const seen = new Set();
  const visit = (key) => {
    if (seen.has(key) || !manifest[key]) return;
    seen.add(key);
    for (const dep of manifest[key].imports ?? []) visit(dep);
  };
  start.forEach(visit);
  return seen;
}

const gz = (file) => {
  const bytes = readFileSync(join(dist, file));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};

function measure(keys) {
  let raw = 0;
  let gzip = 0;
  const files = [];
  for (const key of keys) {
    const file = manifest[key].file;
    if (!file.endsWith(".js")) continue;
    const size = gz(file);
    raw += size.raw;
    gzip += size.gzip;
    files.push(`${file} ${(size.gzip / 1024).toFixed(1)} KiB`);
  }
  return { raw, gzip, files };
}

const entries = Object.keys(manifest).filter((k) => manifest[k].isEntry);
const initial = closure(entries);
// Cross-check against the HTML: every script or modulepreload it names must be counted.
for (const [, src] of html.matchAll(/(?:src|href)="\/?(assets\/[^"]+\.js)"/g)) {
  if (![...initial].some((k) => manifest[k].file === src)) throw new Error(`index.html loads ${src}, not in the entry's closure`);
}
const first = measure(initial);
const healthKey = Object.keys(manifest).find((k) => k.endsWith("pages/HealthPage.tsx"));
const route = measure(closure([...initial, ...(healthKey ? [healthKey] : [])]));

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`first-page JS (index.html's initial load): ${kib(first.gzip)} gzip (${kib(first.raw)} raw) — ${first.files.join(", ")}`);
console.log(`first route /health incl. its lazy chunks: ${kib(route.gzip)} gzip (${kib(route.raw)} raw)`);
console.log(`budget: ${budgetKiB} KiB gzip`);
if (first.gzip > budgetKiB * 1024 || route.gzip > budgetKiB * 1024) {
  console.error("over the first-page JS budget");
  process.exit(1);
}
