// Shared helpers of the Node suites: temporary session directories, lock files written the way
// the TypeScript module wrote them, and child processes that hold locks.

import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const packageDir = path.resolve(here, "../../npm");

/** The signals the package's process cleanup listens for here (npm/cleanup.js): on Windows
 * those Node delivers there. */
export const CLEANUP_SIGNALS =
  process.platform === "win32" ? ["SIGINT", "SIGBREAK", "SIGHUP"] : ["SIGINT", "SIGTERM", "SIGQUIT", "SIGABRT"];

/** A fresh directory for one test, removed after it. */
export function sessionsDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swl-node-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Milliseconds since 1970 with sub-millisecond precision, comparable across processes. */
export function epochNow() {
  return performance.timeOrigin + performance.now();
}

/** Field 22 of /proc/<pid>/stat: what the TypeScript module records as `starttime`. */
export function starttimeOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[22 - 3]);
}

/**
 * A pid no process can have: above the kernel's pid_max (a reaped child's pid could be reused
 * by the time the library judges it).
 */
export function deadPid() {
  return Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1;
}

/** The core's counters: `{ waits, eventWakeups, timerReinspections }` of this process. */
export const stats = () => createRequire(import.meta.url)("../../npm/native.js").__stats();

/**
 * The handshake "the waiter is waiting": resolves once more acquires than `before` (a
 * `stats().waits` taken before starting the waiter) found the lock busy and were handed to the
 * lock service. Rejects after 10 s instead of hanging.
 */
export async function waitUntilWaiting(before) {
  const started = performance.now();
  while (stats().waits <= before) {
    if (performance.now() - started > 10_000) throw new Error("the waiter never started waiting");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Writes a lock file as the TypeScript module did; `ageMs` backdates its mtime. */
export function writeLegacyLock(sessionFile, payload, { ageMs = 0 } = {}) {
  const lockPath = `${sessionFile}.lock`;
  const text = typeof payload === "string" ? payload : JSON.stringify(payload, null, 2);
  fs.writeFileSync(lockPath, text);
  if (ageMs > 0) {
    const then = new Date(Date.now() - ageMs);
    fs.utimesSync(lockPath, then, then);
  }
  return lockPath;
}

export function isoAgo(ms) {
  return new Date(Date.now() - ms).toISOString();
}

/**
 * Starts tests/node/fixtures/holder.mjs, which acquires `files` and then obeys commands
 * ("release", "exit"). Resolves once it holds them, with its events as they come.
 */
export async function startHolder(files, options = {}) {
  const child = spawn(
    process.execPath,
    [path.join(here, "fixtures/holder.mjs"), JSON.stringify({ files, ...options })],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const events = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const holder = {
    child,
    exited,
    async next() {
      const { value, done } = await events.next();
      if (done) throw new Error("the holder exited without answering");
      return JSON.parse(value);
    },
    send(command) {
      child.stdin.write(`${command}\n`);
    },
    kill(signal = "SIGKILL") {
      child.kill(signal);
      return exited;
    },
  };
  const ready = await holder.next();
  if (ready.event !== "ready") throw new Error(`holder: ${JSON.stringify(ready)}`);
  return Object.assign(holder, ready);
}

/** Tracks whether a promise has settled yet. */
export function track(promise) {
  const tracked = { settled: false, promise };
  promise.then(
    () => (tracked.settled = true),
    () => (tracked.settled = true),
  );
  return tracked;
}

export const asyncDispose = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A live process whose command line the gateway's rules recognise (`… openclaw`), to hold
 * legacy lock files that must count as a live gateway's. Killed after the test.
 */
export async function startGatewayLikeProcess(t) {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)", "openclaw"], { stdio: "ignore" });
  t.after(() => child.kill("SIGKILL"));
  await new Promise((resolve) => child.once("spawn", resolve));
  return { pid: child.pid, starttime: starttimeOf(child.pid) };
}

// Handshakes with this process's lock service, read from /proc (Linux).

/** Resolves once `ready()` holds; rejects after 10 s instead of hanging. */
export async function until(what, ready) {
  const started = performance.now();
  while (!ready()) {
    if (performance.now() - started > 10_000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The text of /proc/self/task/<tid>/<name> for every thread of this process. */
function tasks(name) {
  const read = (tid) => {
    try {
      return fs.readFileSync(`/proc/self/task/${tid}/${name}`, "utf8");
    } catch {
      return "";
    }
  };
  return fs.readdirSync("/proc/self/task").map((tid) => ({ tid, text: read(tid) }));
}

/** This process's lock service thread (named "session-write-l…") sleeps in epoll_wait or poll:
 * everything it was told or woken for so far is done. */
export function serviceSleeps() {
  const service = new Set(tasks("comm").filter((t) => t.text.trim() === "session-write-l").map((t) => t.tid));
  return tasks("wchan").some((t) => service.has(t.tid) && t.text.includes("poll"));
}
