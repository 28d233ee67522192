// Waiting at scale, from Node: N waiters on N distinct locks (each in its own directory) in
// this process, all held by other processes. The Node twin of benches/rust_waiters.rs, whose
// small holder mode it uses (`$SWL_WAITERS_HOLDER --hold <dir> <from> <to>`; a holder as
// large as a Node process takes milliseconds to die, which is not what is measured here).
// Prints one JSON line of the same shape:
//   {"impl":"swl","waiters":N,"idle_s":S,"idle_cpu_pct":…,"samples":K,"kill_p50_ms":…,
//    "kill_p99_ms":…,"kill_max_ms":…,"settled":true|false}
//
//   node waiters-scale.mjs <waiters> [samples=40] [idle_s=10] [dir]
//
// - idle_cpu_pct: CPU time (process.cpuUsage: user + system, every thread, the lock service's
//   included) during idle_s seconds in which nothing happens, as a percentage of one core. The
//   window opens once the lock service has settled every waiter (each keeps its lock file
//   open; `settled` is false when that was not seen within 5 s + 1 ms per waiter).
// - kill_*: K of the N locks are held by one process each; one at a time, such a holder is
//   SIGKILLed and the time until its waiter's promise resolves is taken (nearest rank).
// Node raises its own RLIMIT_NOFILE soft limit to the hard one at start-up.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadImpl } from './impls.mjs';
import { msBetween, percentiles, printJsonLine } from './stats.mjs';

const holderExe = process.env.SWL_WAITERS_HOLDER;
const [waitersArg, samplesArg = '40', idleArg = '10', dirArg] = process.argv.slice(2);
const waiters = Number(waitersArg);
const samples = Math.min(Number(samplesArg), waiters);
const idleS = Number(idleArg);
if (!holderExe || ![waiters, samples, idleS].every((n) => Number.isInteger(n) && n > 0)) {
  console.error(
    'usage: SWL_WAITERS_HOLDER=<rust_waiters bench executable> node waiters-scale.mjs <waiters> [samples=40] [idle_s=10] [dir]',
  );
  process.exit(2);
}
const dir = dirArg ?? fs.mkdtempSync(path.join(os.tmpdir(), 'swl-waiters-scale-'));
const sessionFile = (i) => path.join(dir, `d${i}`, 's.jsonl');
for (let i = 0; i < waiters; i += 1) fs.mkdirSync(path.dirname(sessionFile(i)), { recursive: true });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const openFds = () => fs.readdirSync('/proc/self/fd').length;

function holder(from, to) {
  const child = spawn(holderExe, ['--hold', dir, String(from), String(to)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    child.stdout.once('data', (chunk) =>
      String(chunk).trim() === 'ready' ? resolve() : reject(new Error(`holder: ${chunk}`)),
    );
    child.once('exit', (code) => reject(new Error(`holder ${from}..${to} exited ${code}`)));
  });
  return { child, ready, exited };
}

const impl = await loadImpl('swl', { timeoutMs: 24 * 3600 * 1000, allowReentrant: false });
const victims = Array.from({ length: samples }, (_, i) => holder(i, i + 1));
const rest = holder(samples, waiters);
await Promise.all([...victims, rest].map((h) => h.ready));

const baseFds = openFds();
const acquiredAt = new Array(waiters);
const acquired = Array.from({ length: waiters }, (_, i) =>
  impl.acquire(sessionFile(i)).then(() => {
    acquiredAt[i] = process.hrtime.bigint();
  }),
);
const settleBy = Date.now() + 5000 + waiters;
let settled = false;
while (!(settled = openFds() >= baseFds + waiters) && Date.now() < settleBy) await sleep(20);

const cpuBefore = process.cpuUsage();
const idleStarted = process.hrtime.bigint();
await sleep(idleS * 1000);
const cpu = process.cpuUsage(cpuBefore);
const idleMs = msBetween(idleStarted, process.hrtime.bigint());
const idleCpuPct = ((cpu.user + cpu.system) / 1000 / idleMs) * 100;

const latencies = [];
for (let i = 0; i < samples; i += 1) {
  const killedAt = process.hrtime.bigint();
  victims[i].child.kill('SIGKILL');
  await acquired[i];
  latencies.push(msBetween(killedAt, acquiredAt[i]));
  await victims[i].exited;
  await sleep(20);
}
rest.child.kill('SIGKILL');
await rest.exited;
const { p50, p99, max } = percentiles(latencies, [50, 99]);
printJsonLine({
  impl: 'swl',
  waiters,
  idle_s: idleS,
  idle_cpu_pct: Number(idleCpuPct.toFixed(3)),
  samples,
  kill_p50_ms: p50,
  kill_p99_ms: p99,
  kill_max_ms: max,
  settled,
});
if (dirArg === undefined) fs.rmSync(dir, { recursive: true, force: true });
process.exit(0); // the other waiters wait forever
