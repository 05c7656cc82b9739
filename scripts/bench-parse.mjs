// Times the wasm build of the bulk-export parse (crates/parse-bench) over a JSONL file in
// node's V8, feeding it parts of the size the ingest Worker downloads. Prints JSON.
//   node scripts/bench-parse.mjs <wasm-bindgen nodejs dir> <file.jsonl> <part bytes> <runs>
import { createRequire } from 'node:module';
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';

const [dir, file, partArg, runsArg] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { Parser } = require(path.resolve(dir, 'parse_bench.js'));
const part = Number(partArg || 8 * 1024 * 1024);
const runs = Number(runsArg || 3);
const fd = openSync(file, 'r');
const size = fstatSync(fd).size;
const buffer = Buffer.alloc(part);
const results = [];
for (let run = 0; run < runs; run++) {
  const parser = new Parser();
  let elapsed = 0;
  for (let offset = 0; offset < size; offset += part) {
    const n = readSync(fd, buffer, 0, part, offset);
    const bytes = buffer.subarray(0, n);
    const t0 = performance.now();
    if (!parser.feed(bytes)) throw new Error(`parse error near byte ${offset}`);
    elapsed += performance.now() - t0;
  }
  results.push({ seconds: elapsed / 1000, records: parser.records(), rows: parser.rows(), memory_bytes: parser.memory_bytes() });
  parser.free();
}
closeSync(fd);
results.sort((a, b) => a.seconds - b.seconds);
const median = results[Math.floor(results.length / 2)];
console.log(JSON.stringify({ bytes: size, runs, ...median, mb_per_s: size / 1e6 / median.seconds }));
