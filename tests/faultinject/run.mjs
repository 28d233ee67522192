// Crash points and injected errors, as storage libraries test themselves. For one victim (the C
// program tests/c/faultinject.c, or victim.mjs under Node) doing one acquire + release:
//   1. a traced run lists the system calls the library makes (between the victim's two marker
//      calls: the main thread's, and those of threads started in between) as points
//      (syscall, k-th invocation by that thread), but for those whose k-th invocation also comes
//      outside the window (counted and shown as "left out"). The victim exits only once its
//      lock service sleeps, so that its threads' calls are the same in every run;
//   2. crash: one run per point, SIGKILLed at that call (strace -e inject=NAME:signal=KILL:when=K);
//   3. errors: one run per point and errno (EINTR, EIO, ENOSPC, EACCES, ENOMEM), the call
//      failing with it (strace -e inject=NAME:error=ERR:when=K).
// Every run is traced, and counts only if the injection landed in the window: on the k-th call
// of the victim's main thread between the markers, or of a thread started after the go-ahead.
// A run where it landed nowhere (the k-th call did not come) or only outside the window (another
// thread's k-th call came first) is tried again, twice; a point never injected in the window
// is a failure, not a pass. After every run: nothing but the lock file is left in the
// directory (no temp files) — and not even the lock file after a run that exited 0 — a fresh
// process acquires at once (one try), and after its release the directory is empty. Error runs
// must end in success or a clean error naming the errno and the path: never a panic or abort,
// and never for EINTR, which is retried and never reported (docs/PROTOCOL.md).
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
 * lets it go, tracing into `trace`. Resolves with its exit (status, signal), stderr and the
 * threads it had before the go-ahead.
 */
async function strace(args, trace) {
  const child = spawn(victim[0], [...victim.slice(1), sessionFile, "wait"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once("exit", (status, signal) => resolve({ status, signal })));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== "ready") throw new Error(`victim: ${first.value} ${stderr}`);
  const tracer = spawn("strace", ["-f", "-qq", "-y", "-o", trace, ...args, "-p", String(child.pid)], { stdio: "ignore" });
  const traced = new Promise((resolve) => tracer.once("exit", resolve));
  const before = await attached(child.pid);
  // A crash point can kill the victim before it reads its go-ahead (another thread's call came
  // first): the write then fails with EPIPE, and the run is judged by how the victim ended.
  child.stdin.on("error", (e) => {
    if (e.code !== "EPIPE") stderr += `writing the victim's stdin: ${e.message}\n`;
  });
  child.stdin.write("x");
  // Past its end marker ("end"), it exits once its lock service sleeps (or 3 s later).
  const reading = (async () => {
    for await (const line of { [Symbol.asyncIterator]: () => lines }) {
      if (line !== "end") continue;
      await serviceAsleep(child.pid);
      child.stdin.end("x");
    }
  })();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const { status, signal } = await exited;
  child.stdin.end();
  clearTimeout(timer);
  await reading;
  await traced;
  return { status, signal, stderr, before };
}

/** Waits until strace has attached every thread of `pid`; returns their ids (the threads that
 * exist before the go-ahead). */
async function attached(pid) {
  for (let i = 0; i < 2000; i++) {
    let tasks;
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      return new Set(); // already gone: an injection hit it before the window
    }
    const tracers = tasks.map((tid) => {
      try {
        return /TracerPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))[1];
      } catch {
        return "0";
      }
    });
    if (tracers.every((t) => t !== "0")) return new Set(tasks);
    await sleep(5);
  }
  throw new Error("strace did not attach");
}

/** Waits (3 s at most) until the lock service thread of `pid` sleeps in its poller: the
 * kernel function it sleeps in, read from /proc, names a poll. */
async function serviceAsleep(pid) {
  const asleep = () => {
    try {
      return fs.readdirSync(`/proc/${pid}/task`).some((tid) => {
        const task = `/proc/${pid}/task/${tid}`;
        const service = fs.readFileSync(`${task}/comm`, "utf8").trim() === "session-write-l";
        return service && fs.readFileSync(`${task}/wchan`, "utf8").includes("poll");
      });
    } catch {
      return true; // gone
    }
  };
  for (let i = 0; i < 600 && !asleep(); i++) await sleep(5);
}

const trace = path.join(os.tmpdir(), `swl-faultinject-${lang}-${process.pid}.trace`);

/**
 * The points of one traced run — [name, k] for the library's calls between the markers — the
 * name of the markers' system call, and how many points were left out because a k-th call of
 * that name also comes outside the window (in a thread that existed before the go-ahead, such
 * as Node's own, or in the main thread before or after the markers): an injection there would
 * land outside as well, so the point cannot be tested alone.
 */
async function enumerate() {
  const run = await strace([], trace);
  if (run.status !== 0) throw new Error(`traced run failed: ${run.status} ${run.stderr}`);
  const counts = new Map(); // tid -> Map(name -> invocations so far)
  const before = new Set(run.before); // threads that existed before the go-ahead
  let main = null;
  let marker = null;
  let done = false;
  let atBegin; // the main thread's counts at the begin marker
  let atEnd; // and at the end marker
  const points = new Map();
  for (const line of fs.readFileSync(trace, "utf8").split("\n")) {
    const m = /^(\d+) +([a-z0-9_]+)\(/.exec(line);
    if (!m) continue;
    const [, tid, name] = m;
    if (!counts.has(tid)) {
      counts.set(tid, new Map());
      if (main === null) before.add(tid);
    }
    const mine = counts.get(tid);
    mine.set(name, (mine.get(name) ?? 0) + 1);
    // The main thread's window ends at the end marker; threads the library started are
    // followed to the end, so that the set does not depend on how far they got by then.
    if (done && (tid === main || before.has(tid) || name.startsWith("exit"))) continue;
    if (line.includes("/swl-faultinject-begin")) {
      [main, marker] = [tid, name];
      atBegin = new Map(mine);
    } else if (line.includes("/swl-faultinject-end")) {
      done = true;
      atEnd = new Map(mine);
    } else if (main !== null && (tid === main || !before.has(tid))) {
      const k = mine.get(name);
      if (isLibraryCall(name, line, tid !== main)) points.set(`${name}:${k}`, [name, k]);
    }
  }
  if (main === null || !done) throw new Error("the traced run never passed both markers");
  // Calls outside the window: all those of threads that existed before but the main one, and
  // the main thread's before the begin and after the end marker.
  const outside = (tid, name, k) => {
    const total = counts.get(tid).get(name) ?? 0;
    if (tid !== main) return k <= total;
    return k <= (atBegin.get(name) ?? 0) || (k > (atEnd.get(name) ?? 0) && k <= total);
  };
  const shared = ([name, k]) => [...counts.keys()].some((tid) => (tid === main || before.has(tid)) && outside(tid, name, k));
  const alone = [...points.values()].filter((point) => !shared(point));
  return { points: alone, marker, shared: points.size - alone.length };
}

/**
 * Where the injection at `name`'s k-th call landed in one run, from its trace (`-e trace=name`
 * and the markers' call): "window" when it hit the k-th call of the main thread between the
 * markers or of a thread started after the go-ahead, "outside" when only other threads' k-th
 * calls were hit (threads that existed before, or the main thread outside the markers), and
 * "none" when no thread made a k-th call. Counts are per thread, as strace's `when=` counts. An
 * error shows as "(INJECTED)"; a kill (`killed`) as the k-th call that never returned.
 */
function landed(name, k, before, killed) {
  const calls = new Map(); // tid -> calls of `name` so far
  const open = new Map(); // tid -> whether its unfinished call is the k-th
  let phase = "before"; // of the main thread: before, inside or after the markers
  let main = null;
  let where = "none";
  const hit = (tid) => {
    const inWindow = tid === main ? phase === "inside" : main !== null && !before.has(tid);
    if (inWindow) where = "window";
    else if (where === "none") where = "outside";
  };
  for (const line of fs.readFileSync(trace, "utf8").split("\n")) {
    const m = /^(\d+) +(?:<\.\.\. )?([a-z0-9_]+)[( ]/.exec(line);
    if (!m) continue;
    const [, tid, call] = m;
    if (line.includes("/swl-faultinject-begin")) [main, phase] = [tid, "inside"];
    else if (line.includes("/swl-faultinject-end") && tid === main) phase = "after";
    if (call !== name) continue;
    const resumed = line.includes(" <... ");
    let kth = open.get(tid) ?? false;
    if (!resumed) {
      const n = (calls.get(tid) ?? 0) + 1;
      calls.set(tid, n);
      kth = n === k;
    }
    // A call killed on entry reads "name(args <unfinished ...>) = ?".
    const gone = / = \?$/.test(line);
    if (line.includes("<unfinished ...>") && !gone) open.set(tid, kth);
    else if (kth && (line.includes("(INJECTED)") || (killed && gone))) hit(tid);
  }
  return where;
}

/** Lists what a run left: [lock file present, other entries]. */
function leftovers() {
  const entries = fs.readdirSync(work);
  return [entries.includes(lockName), entries.filter((e) => e !== lockName)];
}

/** The checks after every run; returns the problems found (none: passed). */
function checkAfter(run) {
  const problems = [];
  const [lockLeft, others] = leftovers();
  if (others.length) problems.push(`left behind: ${others.join(" ")}`);
  if (lockLeft && run.status === 0) problems.push("left behind: the lock file, by a run that exited 0");
  const fresh = spawnSync(freshChecker, [sessionFile, "fresh"], { encoding: "utf8", timeout: 20_000 });
  if (fresh.status !== 0) problems.push(`stuck: a fresh process could not acquire (${fresh.status}: ${fresh.stderr.trim()})`);
  const [lock, rest] = leftovers();
  if (lock || rest.length) problems.push(`not empty after a fresh acquire + release: ${fs.readdirSync(work).join(" ")}`);
  for (const entry of fs.readdirSync(work)) fs.rmSync(path.join(work, entry), { recursive: true, force: true });
  return problems;
}

const errnoNames = /\bE[A-Z0-9]{2,}\b/;
/** Whether an error run ended acceptably: success, or a clean error naming an errno and the
 * path — and for EINTR only success: it is retried, never reported. */
function judgeErrorRun(run, errno) {
  const stderr = run.stderr ?? "";
  if (/panic|abort|SIGABRT|RUST_BACKTRACE/i.test(stderr)) return `panic/abort: ${stderr.trim()}`;
  if (run.signal) return `killed by ${run.signal}: ${stderr.trim()}`;
  if (run.status === 0) return null;
  if (errno === "EINTR") return `EINTR reported to the caller (exit ${run.status}): ${stderr.trim()}`;
  if (run.status !== 2) return `exit ${run.status}: ${stderr.trim()}`;
  if (!errnoNames.test(stderr) || !stderr.includes(work)) return `error without errno or path: ${stderr.trim()}`;
  return null;
}

const TRIES = 3;
/**
 * Runs one injection until it lands in the window (at most TRIES times; the directory is
 * checked and emptied after each run). Returns the run that counts, or null with the reason
 * (what the last try saw) when none landed there.
 */
async function inject(name, k, action, marker) {
  let where = "none";
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const run = await strace(["-e", `trace=${name},${marker}`, "-e", `inject=${name}:${action}:when=${k}`], trace);
    where = landed(name, k, run.before, run.signal === "SIGKILL");
    if (where === "window") return { run };
    const problems = checkAfter(run);
    if (problems.length) return { run, problems };
  }
  return { run: null, where };
}

const started = Date.now();
const { points: all, marker, shared } = await enumerate();
const crashPoints = all;
const errorPoints = all.filter(([name]) => !NO_ERRORS.has(name));
let passed = 0;
let failed = 0;
// Each of missed, outside, eintr and left must stay zero: every one is also a failure.
const tally = { crashes: 0, missed: 0, outside: 0, eintr: 0, stuck: 0, left: 0, errorRuns: 0, succeeded: 0, cleanErrors: 0 };
const report = (what, problems) => {
  if (problems.length === 0) return passed++;
  failed++;
  if (problems.some((p) => p.startsWith("stuck"))) tally.stuck++;
  if (problems.some((p) => p.startsWith("left") || p.startsWith("not empty"))) tally.left++;
  if (problems.some((p) => p.startsWith("EINTR reported"))) tally.eintr++;
  console.log(`FAIL ${what}: ${problems.join("; ")}`);
};
/** A point whose injection never landed in the window: not tested, so not passed. */
const notInjected = (what, where) => {
  if (where === "none") tally.missed++;
  else tally.outside++;
  const why = where === "none" ? "its k-th call never came" : "only calls outside the window were hit";
  report(what, [`never injected in the window in ${TRIES} tries (${why})`]);
};

for (const [name, k] of crashPoints) {
  const what = `crash at ${name}#${k}`;
  const { run, where, problems } = await inject(name, k, "signal=KILL", marker);
  if (!run) notInjected(what, where);
  else if (problems) report(what, problems);
  else {
    tally.crashes++;
    report(what, checkAfter(run));
  }
}
for (const [name, k] of errorPoints) {
  for (const errno of ERRNOS) {
    const what = `${errno} at ${name}#${k}`;
    const { run, where, problems } = await inject(name, k, `error=${errno}`, marker);
    if (!run) {
      notInjected(what, where);
      continue;
    }
    if (problems) {
      report(what, problems);
      continue;
    }
    tally.errorRuns++;
    const verdict = judgeErrorRun(run, errno);
    if (process.env.FAULTINJECT_VERBOSE && run.status === 2) console.log(`${what}: ${run.stderr.trim()}`);
    if (!verdict) run.status === 0 ? tally.succeeded++ : tally.cleanErrors++;
    report(what, [...(verdict ? [verdict] : []), ...checkAfter(run)]);
  }
}
fs.rmSync(trace, { force: true });
fs.rmSync(work, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `faultinject ${lang}: ${crashPoints.length} crash points (${tally.crashes} killed in the window; ` +
    `${shared} left out: their k-th call also comes outside the window); ` +
    `${errorPoints.length} error points × ${ERRNOS.length} errnos (${tally.errorRuns} injected in the window: ` +
    `${tally.succeeded} succeeded, ${tally.cleanErrors} clean errors); failures: ${tally.missed} never reached, ` +
    `${tally.outside} hit only outside the window, ${tally.eintr} EINTR reported, ${tally.stuck} stuck, ` +
    `${tally.left} left files; ` +
    `${passed} passed, ${failed} failed in ${seconds}s`,
);
if (process.env.FAULTINJECT_COUNTS) fs.writeFileSync(process.env.FAULTINJECT_COUNTS, `${passed} ${failed}\n`);
process.exitCode = failed ? 1 : 0;
