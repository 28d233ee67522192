// What recording the acquire site costs (docs/PROTOCOL.md, "Diagnostics"): every acquire of the
// Node package captures the JavaScript stack into an object (Error.captureStackTrace; formatted
// only when shown). In one process: the capture alone, the same capture in the shape acquire
// uses it, and whole uncontended swl acquire+release cycles (capture on, as shipped), so the
// capture's share of a cycle is measured on the same machine in the same run.
//
//   node stack-capture.mjs swl [iterations=20000] [dir]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadImpl } from './impls.mjs';
import { printJsonLine, summarize } from './stats.mjs';

const [name, iterationsArg = '20000', dirArg] = process.argv.slice(2);
const iterations = Number(iterationsArg);
if (name !== 'swl' || !Number.isInteger(iterations) || iterations < 1) {
  console.error('usage: node stack-capture.mjs swl [iterations=20000] [dir]');
  process.exit(2);
}

// A few frames deep, like a gateway's turn handler calling its session writer; the capture as
// npm/index.js makes it (3 frames).
function capture() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 3;
  const site = {};
  Error.captureStackTrace(site, capture);
  Error.stackTraceLimit = limit;
  return site;
}
const depth = (n) => (n === 0 ? capture() : depth(n - 1));
const chain = (n) => (n === 0 ? {} : chain(n - 1));

/** Median ns per call of `fn`, in batches of 100 calls (one call is below the timer's grain). */
function perCall(fn, calls) {
  const batches = Math.max(1, Math.floor(calls / 100));
  const samples = new BigUint64Array(batches);
  let sink;
  for (let b = -Math.floor(batches / 10); b < batches; b += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 100; i += 1) sink = fn();
    if (b >= 0) samples[b] = (process.hrtime.bigint() - start) / 100n;
  }
  if (sink === undefined) throw new Error('nothing captured');
  return summarize(samples).median_ns_per_cycle;
}

const captureNs = perCall(() => depth(8), iterations);
const emptyNs = perCall(() => chain(8), iterations); // the same call chain without the capture

const swl = await loadImpl('swl');
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-capture-'));
const sessionFile = path.join(dir, 's.jsonl');
fs.mkdirSync(dir, { recursive: true });
const samples = new BigUint64Array(iterations);
try {
  for (let i = -Math.floor(iterations / 10); i < iterations; i += 1) {
    if (i % 1000 === 0) await new Promise(setImmediate);
    const start = process.hrtime.bigint();
    const handle = await swl.acquire(sessionFile);
    await handle.release();
    if (i >= 0) samples[i] = process.hrtime.bigint() - start;
  }
} finally {
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
}
const cycle = summarize(samples);
printJsonLine({
  impl: 'swl',
  iterations,
  capture_ns: captureNs,
  call_chain_ns: emptyNs,
  cycle_median_ns: cycle.median_ns_per_cycle,
  cycle_p99_ns: cycle.p99_ns,
  capture_share_of_cycle: captureNs / cycle.median_ns_per_cycle,
});
