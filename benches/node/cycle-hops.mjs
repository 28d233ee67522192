// Where an uncontended Node cycle's time goes, hop by hop: each phase runs one hop N times after
// its own warm-up, and calls os.getPriority() (a system call nothing else here makes) before and
// after, so that `valgrind --tool=callgrind --dump-before=getpriority` dumps one profile per
// phase: the even dumps are the measured phases, in the order printed. Instruction counts, not
// time: repeatable on a loaded machine. Run it through cycle-hops.sh, which prints the table.
// The acquire-site capture alone: stack-capture.mjs (time), or the cycle's profile
// (`Builtin_ErrorCaptureStackTrace` in callgrind_annotate).
//
//   node cycle-hops.mjs <dir> <N> <package dir>...
//
// Each package directory (npm/ or a copy of it at another commit) gets whole-cycle phases, so
// that a change is compared with the state before it in the same run.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [dir, nArg, ...packages] = process.argv.slice(2);
const N = Number(nArg);
if (!dir || !Number.isInteger(N) || N < 1 || packages.length === 0) {
  console.error('usage: node cycle-hops.mjs <dir> <N> <package dir>...');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });
const sessionFile = path.join(dir, 's.jsonl');
// The options benches/node/impls.mjs gives every implementation.
const params = { sessionFile, timeoutMs: 10_000, staleMs: 1_800_000, allowReentrant: true };

const first = path.resolve(packages[0]);
const native = require(path.join(first, 'native.js'));

const cycles = packages.map((pkg, k) => {
  const swl = require(path.join(path.resolve(pkg), 'index.js'));
  return [`full cycle, package ${k + 1}`, async () => (await swl.acquireSessionWriteLock(params)).release()];
});
// A phase of whole cycles can cost 20 % more than the next when the collector or the JIT does
// its work then (the first rounds most): ROUNDS rounds, each starting with the next package;
// cycle-hops.sh takes the median of the phases of one name.
const ROUNDS = 6;
const phases = [
  ['loop alone', async () => {}],
  ...Array.from({ length: ROUNDS }, (_, round) =>
    cycles.map((_, k) => cycles[(round + k) % cycles.length]),
  ).flat(),
  ['native acquire + release', async () => native.acquire(params).release()],
  ['native acquire + release, { sessionFile } only', async () => native.acquire({ sessionFile }).release()],
  [
    'native acquire + release + 3 generation reads',
    async () => {
      const lock = native.acquire(params);
      lock.generation;
      lock.generation;
      lock.generation;
      lock.release();
    },
  ],
  ['empty napi call (printable("x"))', async () => native.printable('x')],
  ['2 process.env reads', async () => process.env.VITEST !== 'true' || process.env.OPENCLAW_TEST_SESSION_LOCK_WATCHDOG],
];

const turn = () => new Promise(setImmediate);
for (const [name, hop] of phases) {
  // Every 100 iterations a turn of the event loop, as benches/node/cycle.mjs gives its cycles.
  const run = async (count) => {
    for (let i = 0; i < count; i += 1) {
      if (i % 100 === 0) await turn();
      await hop();
    }
    await turn();
  };
  await run(300);
  os.getPriority();
  await run(N);
  os.getPriority();
  console.log(name);
}
fs.rmSync(sessionFile, { force: true });
