// Stale-lock storm: K processes take one session lock M times each; inside, each one checks that
// it is alone (a marker file made with O_EXCL), and every 5th time it leaves a crashed holder's
// lock behind so that the others must reclaim it. Counts how often two holders were inside.
//
//   node storm.mjs [impl...] [--workers 6] [--iterations 500] [--budget-ms 60000]
//
// Default impls: ts, proper-lockfile, and swl when the package can be loaded. One JSON line per
// impl. Exits 1 if a worker failed or the time budget ran out; violations are results, not
// failures.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { IMPL_NAMES, loadImpl } from './impls.mjs';
import { printJsonLine } from './stats.mjs';

// Short enough to finish in the budget; proper-lockfile cannot go below its 2000 ms floor.
const LOCK_OPTIONS = {
  ts: { timeoutMs: 20_000, staleMs: 5_000 },
  'proper-lockfile': { timeoutMs: 20_000, staleMs: 2_000 },
  swl: { timeoutMs: 20_000, staleMs: 5_000 },
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workers: { type: 'string', default: '6' },
    iterations: { type: 'string', default: '500' },
    'budget-ms': { type: 'string', default: '60000' },
  },
});
const workers = Number(values.workers);
const iterations = Number(values.iterations);
const budgetMs = Number(values['budget-ms']);
const unknown = positionals.filter((name) => !IMPL_NAMES.includes(name));
if (unknown.length > 0 || ![workers, iterations, budgetMs].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(
    `usage: node storm.mjs [${IMPL_NAMES.join('|')}...] [--workers 6] [--iterations 500] [--budget-ms 60000]`,
  );
  process.exit(2);
}

async function loadable(name) {
  try {
    await loadImpl(name);
    return true;
  } catch (err) {
    console.error(`storm.mjs: ${name}: ${err.message}`);
    return false;
  }
}

// Named impls must all load; by default an impl that cannot be loaded (swl before the addon is
// built) is skipped.
async function chooseImpls() {
  const wanted = positionals.length > 0 ? positionals : IMPL_NAMES;
  const usable = [];
  for (const name of wanted) if (await loadable(name)) usable.push(name);
  if (positionals.length > 0 && usable.length < wanted.length) process.exit(1);
  return usable;
}

function runWorker(name, dir) {
  const { timeoutMs, staleMs } = LOCK_OPTIONS[name];
  const worker = fileURLToPath(new URL('./storm-worker.mjs', import.meta.url));
  const child = spawn(
    process.execPath,
    [worker, name, dir, String(iterations), String(timeoutMs), String(staleMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const done = new Promise((resolve) => {
    // 'close', not 'exit': only then has all of its stdout been read.
    child.on('close', (code) => resolve(code === 0 ? JSON.parse(stdout) : null));
  });
  return { child, done };
}

async function storm(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `swl-storm-${name}-`));
  const started = Date.now();
  const running = Array.from({ length: workers }, () => runWorker(name, dir));
  let timedOut = false;
  const budget = setTimeout(() => {
    timedOut = true;
    for (const { child } of running) child.kill('SIGKILL');
  }, budgetMs);
  const reports = await Promise.all(running.map(({ done }) => done));
  clearTimeout(budget);
  fs.rmSync(dir, { recursive: true, force: true });

  const total = { acquisitions: 0, violations: 0, timeouts: 0, compromised: 0, stalePlanted: 0 };
  for (const report of reports.filter(Boolean)) {
    for (const key of Object.keys(total)) total[key] += report[key];
  }
  const failedWorkers = reports.filter((report) => report === null).length;
  printJsonLine({
    impl: name,
    workers,
    iterationsPerWorker: iterations,
    ...total,
    failedWorkers,
    timedOut,
    elapsedMs: Date.now() - started,
  });
  return failedWorkers === 0 && !timedOut;
}

let ok = true;
for (const name of await chooseImpls()) ok = (await storm(name)) && ok;
process.exit(ok ? 0 : 1);
