// Release-all: one process holds N locks (distinct session files in one directory); how long
// does releasing all of them at once take (the gateway's server-close handler)?
//
//   node release-all.mjs <ts|swl> [locks=10000] [dir]
//
// Prints one JSON line: the time to take the N locks, the time of one releaseAll() call, how
// many it reported released and how many lock files were left behind.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadImpl } from './impls.mjs';
import { msBetween, printJsonLine } from './stats.mjs';

const NAMES = ['ts', 'swl']; // proper-lockfile has no release-all
const [name, locksArg = '10000', dirArg] = process.argv.slice(2);
const locks = Number(locksArg);
if (!NAMES.includes(name) || !Number.isInteger(locks) || locks < 1) {
  console.error(`usage: node release-all.mjs <${NAMES.join('|')}> [locks=10000] [dir]`);
  process.exit(2);
}

const impl = await loadImpl(name);
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-release-all-'));
fs.mkdirSync(dir, { recursive: true });
const lockFilesLeft = () => fs.readdirSync(dir).filter((f) => f.endsWith('.lock')).length;

try {
  const acquireStart = process.hrtime.bigint();
  for (let i = 0; i < locks; i += 1) {
    if (i % 1000 === 0) await new Promise(setImmediate); // let napi finalizers run
    await impl.acquire(path.join(dir, `${i}.jsonl`)); // handles dropped: release-all frees them
  }
  const acquired = process.hrtime.bigint();
  const held = lockFilesLeft();
  const releaseStart = process.hrtime.bigint();
  const released = await impl.releaseAll();
  const releaseEnd = process.hrtime.bigint();
  printJsonLine({
    impl: name,
    locks,
    held,
    acquire_all_ms: msBetween(acquireStart, acquired),
    release_all_ms: msBetween(releaseStart, releaseEnd),
    released,
    left: lockFilesLeft(),
  });
} finally {
  if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
}
