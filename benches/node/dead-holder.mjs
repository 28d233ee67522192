// Dead-holder detection: a holder process is SIGKILLed while a waiter in another process waits;
// how long until the waiter holds the lock?
//
//   node dead-holder.mjs <ts|proper-lockfile|swl> [runs=10] [dir]
//
// Run i kills the holder 50·(i+1) ms after the waiter started waiting (50, 100, … ms: the same
// for every implementation). Time = the waiter's clock right after its acquire resolved minus
// the coordinator's clock just before kill(). proper-lockfile judges a holder only by the age of
// its lock's mtime; it gets its smallest stale threshold (2000 ms; it refreshes every 1000 ms),
// and so does ours (swl-proper-lockfile), whose waiters see a holder's death by its flock.
// Prints one JSON line: median, min and max (ms) over the runs.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMPL_NAMES } from './impls.mjs';
import { startPeer, stopPeer, sleep } from './peers.mjs';
import { median, msBetween, percentiles, printJsonLine } from './stats.mjs';

const [name, runsArg = '10', dirArg] = process.argv.slice(2);
const runs = Number(runsArg);
if (!IMPL_NAMES.includes(name) || !Number.isInteger(runs) || runs < 1) {
  console.error(`usage: node dead-holder.mjs <${IMPL_NAMES.join('|')}> [runs=10] [dir]`);
  process.exit(2);
}

const PROPER_LOCKFILE_MIN_STALE_MS = 2000;
const mtimeJudged = name === 'proper-lockfile' || name === 'swl-proper-lockfile';
const options = mtimeJudged ? { staleMs: PROPER_LOCKFILE_MIN_STALE_MS } : {};
const killAfterMs = (run) => 50 * (run + 1);

const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-dead-holder-'));
fs.mkdirSync(dir, { recursive: true });
const sessionFile = path.join(dir, 's.jsonl');
fs.writeFileSync(sessionFile, ''); // proper-lockfile locks an existing file

const waiter = await startPeer(name, options);
const detections = [];
try {
  for (let run = 0; run < runs; run += 1) {
    const holder = await startPeer(name, options);
    holder.send({ op: 'acquire', sessionFile });
    await holder.next('acquired');
    waiter.send({ op: 'acquire', sessionFile });
    await waiter.next('waiting');
    await sleep(killAfterMs(run));
    const killedAt = process.hrtime.bigint();
    holder.child.kill('SIGKILL');
    const { t: acquired } = await waiter.next('acquired');
    detections.push(msBetween(killedAt, acquired));
    await holder.exited;
    waiter.send({ op: 'release' });
    await waiter.next('released');
  }
} finally {
  await stopPeer(waiter);
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
}

const { max } = percentiles(detections, []);
printJsonLine({
  impl: name,
  runs,
  ...(mtimeJudged && { stale_ms: PROPER_LOCKFILE_MIN_STALE_MS }),
  median_ms: median(detections),
  min_ms: Math.min(...detections),
  max_ms: max,
});
