// Crash points and injected errors, as storage libraries test themselves. For one victim (the C
// program tests/c/faultinject.c, or victim.mjs under Node) doing one acquire + release:
//   1. a traced run lists the system calls the library makes (between the victim's two marker
//      calls: the main thread's, and those of threads started in between) as points
//      (syscall, k-th invocation by that thread);
//   2. crash: one run per point, SIGKILLed at that call (strace -e inject=NAME:signal=KILL:when=K);
//   3. errors: one run per point and errno (EINTR, EIO, ENOSPC, EACCES, ENOMEM), the call
//      failing with it (strace -e inject=NAME:error=ERR:when=K).
// After every run: nothing but the lock file is left in the directory (no temp files), a fresh
// process acquires at once (one try), and after its release the directory is empty. Error runs
// must end in success or a clean error naming the errno and the path: never a panic or abort.
//
// Usage: node run.mjs c|node VICTIM... ; prints one result line per failure and a summary
// line "faultinject <lang>: …", and writes {passed, failed} to $FAULTINJECT_COUNTS if set.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

const [lang, ...victim] = process.argv.slice(2);
const freshChecker = process.env.FAULTINJECT_FRESH; // the C victim, run with "fresh"
const ERRNOS = ["EINTR", "EIO", "ENOSPC", "EACCES", "ENOMEM"];
// Under Node the engine runs its own system calls in the same window (memory, futexes, its
// event loop's eventfd): the library's are those on its files (the trace shows descriptors'
// paths), on /proc, the lock service's setup, and every call of the threads it starts.
const SERVICE_SETUP = new Set(["eventfd2", "inotify_init1", "clone3", "clone", "getrandom", "uname"]);
const isLibraryCall = (name, line, newThread) =>
  lang === "c" || newThread || SERVICE_SETUP.has(name) || line.includes(work) || line.includes("/proc/");
// Where an injected error is not the library's to handle: the allocator and the thread runtime
// (Rust aborts when memory cannot be had), and exiting.
const NO_ERRORS = new Set([
  "mmap", "munmap", "mprotect", "madvise", "brk", "mremap", "futex", "rt_sigprocmask",
  "rt_sigaction", "sigaltstack", "set_robust_list", "rseq", "sched_getaffinity", "prctl",
  "exit", "exit_group", "sched_yield", "getpid", "gettid", "clock_gettime", "clock_nanosleep",
]);

const work = fs.mkdtempSync(path.join(os.tmpdir(), `swl-faultinject-${lang}-`));
const sessionFile = path.join(work, "s.jsonl");
const lockName = "s.jsonl.lock";

/**
 * Runs the victim once under strace, attached once the victim waits on stdin (so that the
 * per-thread invocation counts of `when=K` start there, not in the program's start-up), and
 * lets it go. Resolves with its exit (status, signal), stderr and whether it printed "begin".
 */
async function strace(args, { trace } = {}) {
  const child = spawn(victim[0], [...victim.slice(1), sessionFile, "wait"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once("exit", (status, signal) => resolve({ status, signal })));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== "ready") throw new Error(`victim: ${first.value} ${stderr}`);
  const out = trace ? ["-y", "-o", trace] : ["-o", "/dev/null"];
  const tracer = spawn("strace", ["-f", "-qq", ...out, ...args, "-p", String(child.pid)], { stdio: "ignore" });
  const traced = new Promise((resolve) => tracer.once("exit", resolve));
  await attached(child.pid);
  // A crash point can kill the victim before it reads its go-ahead (another thread's call came
  // first): the write then fails with EPIPE, and the run is judged by how the victim ended.
  child.stdin.on("error", (e) => {
    if (e.code !== "EPIPE") stderr += `writing the victim's stdin: ${e.message}\n`;
  });
  child.stdin.end("x");
  let begun = false;
  const reading = (async () => {
    for await (const line of { [Symbol.asyncIterator]: () => lines }) if (line === "begin") begun = true;
  })();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const { status, signal } = await exited;
  clearTimeout(timer);
  await reading;
  await traced;
  return { status, signal, stderr, begun };
}

/** Waits until strace has attached every thread of `pid`. */
async function attached(pid) {
  for (let i = 0; i < 2000; i++) {
    let tasks;
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      return; // already gone: an injection hit it before the window
    }
    const tracers = tasks.map((tid) => {
      try {
        return /TracerPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))[1];
      } catch {
        return "0";
      }
    });
    if (tracers.every((t) => t !== "0")) return;
    await sleep(5);
  }
  throw new Error("strace did not attach");
}

/** The points of one traced run: [name, k] for the library's calls between the markers. */
async function enumerate() {
  const trace = path.join(os.tmpdir(), `swl-faultinject-${lang}-${process.pid}.trace`);
  const run = await strace([], { trace });
  if (run.status !== 0) throw new Error(`traced run failed: ${run.status} ${run.stderr}`);
  const counts = new Map(); // tid -> Map(name -> invocations so far)
  const before = new Set(); // threads that existed before the begin marker
  let main = null;
  let done = false;
  const points = new Map();
  for (const line of fs.readFileSync(trace, "utf8").split("\n")) {
    const m = /^(\d+) +([a-z0-9_]+)\(/.exec(line);
    if (!m) continue;
    const [, tid, name] = m;
    // The main thread's window ends at the end marker; threads the library started are
    // followed to the end, so that the set does not depend on how far they got by then.
    if (done && (tid === main || before.has(tid) || name.startsWith("exit"))) continue;
    if (!counts.has(tid)) {
      counts.set(tid, new Map());
      if (main === null) before.add(tid);
    }
    const mine = counts.get(tid);
    mine.set(name, (mine.get(name) ?? 0) + 1);
    if (line.includes("/swl-faultinject-begin")) main = tid;
    else if (line.includes("/swl-faultinject-end")) done = true;
    else if (main !== null && (tid === main || !before.has(tid))) {
      const k = mine.get(name);
      if (isLibraryCall(name, line, tid !== main)) points.set(`${name}:${k}`, [name, k]);
    }
  }
  fs.rmSync(trace);
  if (main === null || !done) throw new Error("the traced run never passed both markers");
  return [...points.values()];
}

/** Lists what a run left: [lock file present, other entries]. */
function leftovers() {
  const entries = fs.readdirSync(work);
  return [entries.includes(lockName), entries.filter((e) => e !== lockName)];
}

/** The checks after every run; returns the problems found (none: passed). */
function checkAfter() {
  const problems = [];
  const [, others] = leftovers();
  if (others.length) problems.push(`left behind: ${others.join(" ")}`);
  const fresh = spawnSync(freshChecker, [sessionFile, "fresh"], { encoding: "utf8", timeout: 20_000 });
  if (fresh.status !== 0) problems.push(`stuck: a fresh process could not acquire (${fresh.status}: ${fresh.stderr.trim()})`);
  const [lock, rest] = leftovers();
  if (lock || rest.length) problems.push(`not empty after a fresh acquire + release: ${fs.readdirSync(work).join(" ")}`);
  for (const entry of fs.readdirSync(work)) fs.rmSync(path.join(work, entry), { recursive: true, force: true });
  return problems;
}

const errnoNames = /\bE[A-Z0-9]{2,}\b/;
/** Whether an error run ended acceptably: success, or a clean error naming an errno and the path. */
function judgeErrorRun(run) {
  const stderr = run.stderr ?? "";
  if (/panic|abort|SIGABRT|RUST_BACKTRACE/i.test(stderr)) return `panic/abort: ${stderr.trim()}`;
  if (run.signal) return `killed by ${run.signal}: ${stderr.trim()}`;
  if (run.status === 0) return null;
  if (run.status !== 2) return `exit ${run.status}: ${stderr.trim()}`;
  if (!errnoNames.test(stderr) || !stderr.includes(work)) return `error without errno or path: ${stderr.trim()}`;
  return null;
}

const started = Date.now();
const all = await enumerate();
const crashPoints = all;
const errorPoints = all.filter(([name]) => !NO_ERRORS.has(name));
let passed = 0;
let failed = 0;
const tally = { crashes: 0, early: 0, missed: 0, stuck: 0, left: 0, errorRuns: 0, succeeded: 0, cleanErrors: 0 };
const report = (what, problems) => {
  if (problems.length === 0) return passed++;
  failed++;
  if (problems.some((p) => p.startsWith("stuck"))) tally.stuck++;
  if (problems.some((p) => p.startsWith("left") || p.startsWith("not empty"))) tally.left++;
  console.log(`FAIL ${what}: ${problems.join("; ")}`);
};

for (const [name, k] of crashPoints) {
  const run = await strace(["-e", `trace=${name}`, "-e", `inject=${name}:signal=KILL:when=${k}`]);
  if (run.signal !== "SIGKILL") {
    tally.missed++; // the k-th call did not come in this run
    console.log(`missed ${name}#${k}`);
  }
  else if (!run.begun) tally.early++; // another thread's k-th call came first, before the window
  else tally.crashes++;
  report(`crash at ${name}#${k}`, checkAfter());
}
for (const [name, k] of errorPoints) {
  for (const errno of ERRNOS) {
    const run = await strace(["-e", `trace=${name}`, "-e", `inject=${name}:error=${errno}:when=${k}`]);
    tally.errorRuns++;
    // Another thread's k-th call came first, before the window: not the library's call.
    const verdict = run.begun ? judgeErrorRun(run) : null;
    if (process.env.FAULTINJECT_VERBOSE && run.status === 2) console.log(`${errno} at ${name}#${k}: ${run.stderr.trim()}`);
    if (!run.begun) tally.early++;
    if (!verdict && run.begun) run.status === 0 ? tally.succeeded++ : tally.cleanErrors++;
    report(`${errno} at ${name}#${k}`, [...(verdict ? [verdict] : []), ...checkAfter()]);
  }
}
fs.rmSync(work, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `faultinject ${lang}: ${crashPoints.length} crash points (${tally.crashes} killed in the window, ` +
    `${tally.missed} not reached), ${tally.early} runs hit before the window, ` +
    `${tally.stuck} stuck, ${tally.left} left files; ${errorPoints.length} error points × ${ERRNOS.length} errnos = ` +
    `${tally.errorRuns} runs (${tally.succeeded} succeeded, ${tally.cleanErrors} clean errors); ` +
    `${passed} passed, ${failed} failed in ${seconds}s`,
);
if (process.env.FAULTINJECT_COUNTS) fs.writeFileSync(process.env.FAULTINJECT_COUNTS, `${passed} ${failed}\n`);
process.exitCode = failed ? 1 : 0;
