// Hand-off latency: a holder process releases a lock that a waiter in another process is
// waiting for; how long until the waiter holds it?
//
//   node handoff.mjs <ts|proper-lockfile|swl> [handoffs=200] [dir]
//
// Each round: the holder takes the lock, the waiter starts waiting, the holder keeps the lock
// 10–30 ms more (the same sequence for every implementation, so that polling baselines are not
// favoured by a lucky phase), then releases. Latency = the waiter's clock right after its
// acquire resolved minus the holder's clock just before it called release() (CLOCK_MONOTONIC,
// one clock for every process of the machine). Prints one JSON line with p50, p99 and max (ms).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IMPL_NAMES } from './impls.mjs';
import { startPeer, stopPeer, sleep } from './peers.mjs';
import { msBetween, percentiles, printJsonLine } from './stats.mjs';

const [name, handoffsArg = '200', dirArg] = process.argv.slice(2);
const handoffs = Number(handoffsArg);
if (!IMPL_NAMES.includes(name) || !Number.isInteger(handoffs) || handoffs < 1) {
  console.error(`usage: node handoff.mjs <${IMPL_NAMES.join('|')}> [handoffs=200] [dir]`);
  process.exit(2);
}

// 10..30 ms, spread evenly, in an order unrelated to any backoff schedule.
const holdMs = (round) => 10 + ((round * 7919) % 21);

const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-handoff-'));
fs.mkdirSync(dir, { recursive: true });
const sessionFile = path.join(dir, 's.jsonl');
fs.writeFileSync(sessionFile, ''); // proper-lockfile locks an existing file

const [holder, waiter] = await Promise.all([startPeer(name), startPeer(name)]);
const latencies = [];
try {
  for (let round = 0; round < handoffs; round += 1) {
    holder.send({ op: 'acquire', sessionFile });
    await holder.next('acquired');
    waiter.send({ op: 'acquire', sessionFile });
    await waiter.next('waiting');
    await sleep(holdMs(round));
    holder.send({ op: 'release' });
    const [{ t: released }, { t: acquired }] = await Promise.all([
      holder.next('released'),
      waiter.next('acquired'),
    ]);
    latencies.push(msBetween(released, acquired));
    waiter.send({ op: 'release' });
    await waiter.next('released');
  }
} finally {
  await Promise.all([stopPeer(holder), stopPeer(waiter)]);
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
}

const { p50, p99, max } = percentiles(latencies, [50, 99]);
printJsonLine({ impl: name, handoffs, p50_ms: p50, p99_ms: p99, max_ms: max });
