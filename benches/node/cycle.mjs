// Uncontended acquire+release cycles from Node, one implementation per run.
//
//   node cycle.mjs <ts|proper-lockfile|swl> [iterations=10000] [dir]
//
// Without `dir`, a fresh temporary directory is used and removed afterwards. Prints one JSON
// line in the format of the C programs (c/bench.c).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadImpl, IMPL_NAMES } from './impls.mjs';
import { printJsonLine, summarize } from './stats.mjs';

const [name, iterationsArg = '10000', dirArg] = process.argv.slice(2);
const iterations = Number(iterationsArg);
if (!IMPL_NAMES.includes(name) || !Number.isInteger(iterations) || iterations < 1) {
  console.error(`usage: node cycle.mjs <${IMPL_NAMES.join('|')}> [iterations=10000] [dir]`);
  process.exit(2);
}

let impl;
try {
  impl = await loadImpl(name);
} catch (err) {
  console.error(`cycle.mjs: ${err.message}`);
  process.exit(1);
}

const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-cycle-'));
const sessionFile = path.join(dir, 's.jsonl');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(sessionFile, ''); // proper-lockfile locks an existing file

async function cycle() {
  const handle = await impl.acquire(sessionFile);
  await handle.release();
}

// A loop of awaits on settled promises never returns to the event loop, so native handles'
// finalizers (napi) never run and memory grows: give the loop a turn every so often, untimed.
const YIELD_EVERY = 1000;
const turnOfTheLoop = () => new Promise(setImmediate);

try {
  // Warm-up (untimed): JIT, fs caches, the library's lazy start-up (threads, watchers).
  const warmup = Math.max(100, Math.floor(iterations / 10));
  const samples = new BigUint64Array(iterations);
  for (let i = -warmup; i < iterations; i += 1) {
    if (i % YIELD_EVERY === 0) await turnOfTheLoop();
    const start = process.hrtime.bigint();
    await cycle();
    if (i >= 0) samples[i] = process.hrtime.bigint() - start;
  }
  printJsonLine({ impl: name, iterations, ...summarize(samples) });
} finally {
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
  else fs.rmSync(sessionFile, { force: true });
}
