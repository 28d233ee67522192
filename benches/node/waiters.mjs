// Many waiters in one process: W acquires at once on L locks (W/L per lock, not reentrant, so
// they contend), each holding its lock ~1 ms before releasing. Are all served, is anyone
// starved, and does the event loop stay responsive meanwhile?
//
//   node waiters.mjs <ts|swl> [waiters=1000] [locks=100] [dir]
//
// Prints one JSON line: served/timeouts/violations (two holders of one lock at once), the
// waits (p50, max, ms), the whole run (ms), and the event loop's delay during it
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution: p99 and max, ms).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadImpl } from './impls.mjs';
import { msBetween, percentiles, printJsonLine } from './stats.mjs';

const NAMES = ['ts', 'swl']; // proper-lockfile cannot tell in-process contenders apart
const [name, waitersArg = '1000', locksArg = '100', dirArg] = process.argv.slice(2);
const [waiters, locks] = [Number(waitersArg), Number(locksArg)];
if (!NAMES.includes(name) || ![waiters, locks].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(`usage: node waiters.mjs <${NAMES.join('|')}> [waiters=1000] [locks=100] [dir]`);
  process.exit(2);
}

// Generous: the figure of interest is how long waits take, not whether they time out.
const impl = await loadImpl(name, { allowReentrant: false, timeoutMs: 120_000 });
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-waiters-'));
fs.mkdirSync(dir, { recursive: true });

const inside = new Uint8Array(locks); // 1 while someone holds lock i
const counts = { served: 0, timeouts: 0, violations: 0 };
const waits = [];

async function waiter(i) {
  const lock = i % locks;
  const start = process.hrtime.bigint();
  let handle;
  try {
    handle = await impl.acquire(path.join(dir, `${lock}.jsonl`));
  } catch {
    counts.timeouts += 1;
    return;
  }
  waits.push(msBetween(start, process.hrtime.bigint()));
  counts.served += 1;
  if (inside[lock]) counts.violations += 1;
  inside[lock] = 1;
  await new Promise((resolve) => setTimeout(resolve, 1));
  inside[lock] = 0;
  await handle.release();
}

const loop = monitorEventLoopDelay({ resolution: 1 });
try {
  loop.enable();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: waiters }, (_, i) => waiter(i)));
  const elapsed = msBetween(start, process.hrtime.bigint());
  loop.disable();
  const { p50, max } = waits.length > 0 ? percentiles(waits, [50]) : { p50: null, max: null };
  printJsonLine({
    impl: name,
    waiters,
    locks,
    ...counts,
    wait_p50_ms: p50,
    wait_max_ms: max,
    elapsed_ms: elapsed,
    loop_delay_p99_ms: loop.percentile(99) / 1e6,
    loop_delay_max_ms: loop.max / 1e6,
  });
} finally {
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
}
