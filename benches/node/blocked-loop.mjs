// An event loop blocked past `stale`: a holder process takes a lock, then its event loop
// busy-waits for twice `stale` while a real proper-lockfile waiter (in this process, polling
// every 5–100 ms) tries to take it. Does the waiter get in, and does the holder learn it lost
// the lock (ECOMPROMISED)?
//
//   node blocked-loop.mjs <proper-lockfile|swl-proper-lockfile> [runs=3] [dir]
//
// `stale` is proper-lockfile's smallest, 2000 ms, for holder and waiter. Prints one JSON line:
// in how many runs the waiter took the lock, after how long (median, from the block's start),
// and in how many the holder was told its lock was compromised.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadImpl } from './impls.mjs';
import { startPeer, stopPeer } from './peers.mjs';
import { median, printJsonLine } from './stats.mjs';

const NAMES = ['proper-lockfile', 'swl-proper-lockfile'];
const [name, runsArg = '3', dirArg] = process.argv.slice(2);
const runs = Number(runsArg);
if (!NAMES.includes(name) || !Number.isInteger(runs) || runs < 1) {
  console.error(`usage: node blocked-loop.mjs <${NAMES.join('|')}> [runs=3] [dir]`);
  process.exit(2);
}

const STALE_MS = 2000;
const BLOCK_MS = 2 * STALE_MS;
const waiter = await loadImpl('proper-lockfile', { staleMs: STALE_MS, timeoutMs: BLOCK_MS });

const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-blocked-loop-'));
fs.mkdirSync(dir, { recursive: true });
const takenAfter = [];
let compromisedRuns = 0;
try {
  for (let run = 0; run < runs; run += 1) {
    const sessionFile = path.join(dir, `s-${run}.jsonl`);
    fs.writeFileSync(sessionFile, ''); // proper-lockfile locks an existing file
    const holder = await startPeer(name, { staleMs: STALE_MS });
    let compromised = false;
    holder.child.on('message', (message) => {
      if (message.op === 'compromised') compromised = true;
    });
    holder.send({ op: 'acquire', sessionFile });
    await holder.next('acquired');
    const blockedAt = performance.now();
    holder.send({ op: 'block', ms: BLOCK_MS });
    const taken = await waiter.acquire(sessionFile).then(
      (handle) => handle,
      () => null, // still held when its retries ran out (maxRetryTime = the block)
    );
    if (taken) takenAfter.push(performance.now() - blockedAt);
    await holder.next('unblocked');
    if (compromised) compromisedRuns += 1;
    await taken?.release();
    await stopPeer(holder);
  }
} finally {
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
}

printJsonLine({
  impl: name,
  runs,
  stale_ms: STALE_MS,
  block_ms: BLOCK_MS,
  taken_runs: takenAfter.length,
  taken_after_ms: takenAfter.length ? median(takenAfter) : null,
  compromised_runs: compromisedRuns,
});
