// One contender of the stale-lock storm (started by storm.mjs, not meant to be run by hand).
//
//   node storm-worker.mjs <impl> <dir> <iterations> <timeoutMs> <staleMs>
//
// Prints one JSON line with its counts when done.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { loadImpl } from './impls.mjs';
import { printJsonLine } from './stats.mjs';

const [name, dir, iterationsArg, timeoutMsArg, staleMsArg] = process.argv.slice(2);
const iterations = Number(iterationsArg);
const impl = await loadImpl(name, { timeoutMs: Number(timeoutMsArg), staleMs: Number(staleMsArg) });
const sessionFile = path.join(dir, 's.jsonl');
// Exists only while someone is inside the critical section.
const marker = path.join(dir, 'inside.marker');
const PLANT_EVERY = 5;

// A pid that certainly belonged to a process that has exited: our own child, reaped.
async function deadPid() {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid;
}

// Half of the holds end at the next turn of the event loop, half after ~1 ms.
const briefly = () =>
  new Promise((resolve) => (Math.random() < 0.5 ? setImmediate(resolve) : setTimeout(resolve, 1)));

const counts = { acquisitions: 0, violations: 0, timeouts: 0, compromised: 0, stalePlanted: 0 };
const stalePid = await deadPid();

for (let i = 1; i <= iterations; i += 1) {
  let handle;
  try {
    handle = await impl.acquire(sessionFile);
  } catch {
    counts.timeouts += 1;
    continue;
  }
  counts.acquisitions += 1;

  let entered = true;
  try {
    fs.closeSync(fs.openSync(marker, 'wx'));
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    entered = false; // another holder is inside at the same time
    counts.violations += 1;
  }
  await briefly();
  if (entered) fs.unlinkSync(marker);

  try {
    await handle.release();
  } catch {
    counts.compromised += 1; // the lock was taken from us while we held it
  }
  if (i % PLANT_EVERY === 0 && impl.plantStale(handle.lockPath, stalePid)) counts.stalePlanted += 1;
}

printJsonLine(counts);
