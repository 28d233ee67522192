"use strict";
// The Node worker of the reliability run: the same modes and output as the Rust worker
// (tests/support/worker.rs) and the C worker (tests/c/storm_worker.c), through the npm package.
//
//   storm FILE ITERATIONS MARKER STALE_EVERY   prints "acquired=N violations=V stale_left=S"
//   victim FILE MARKER                         prints "held <pid>", then waits for SIGKILL
//   try FILE TIMEOUT_MS                        prints "acquired" | "busy <msg>" | "error <CODE> <msg>"
//   hold FILE                                  prints "held <pid>"; on a stdin line releases and
//                                              prints "released ok"; log lines as "log <line>"

const fs = require("node:fs");
const path = require("node:path");
const lockPackage = require(path.join(__dirname, "../../npm"));

const { acquireSessionWriteLock, setSessionWriteLockLogger } = lockPackage;
const say = (line) => process.stdout.write(`${line}\n`);
const contender = (sessionFile) =>
  acquireSessionWriteLock({ sessionFile, timeoutMs: Infinity, allowReentrant: false });
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Creates the marker with O_EXCL: false means someone else is inside the critical section. */
function enter(marker) {
  try {
    fs.closeSync(fs.openSync(marker, "wx"));
    return true;
  } catch (error) {
    if (error.code === "EEXIST") return false;
    throw error;
  }
}

/** A TypeScript-format lock file of a dead process, to be linked into place later. */
function prepareStaleLegacyLock(sessionFile) {
  // Above pid_max, so no process can have it (a reaped child's pid may be reused in a long storm).
  const deadPid = Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8")) + 1;
  const temp = `${sessionFile}.stale-${process.pid}`;
  fs.writeFileSync(temp, JSON.stringify({ pid: deadPid, createdAt: "2099-01-01T00:00:00.000Z" }));
  return temp;
}

/** Links it into place only if the path is free; says whether it landed. */
function linkStaleLegacyLock(temp, lockPath) {
  try {
    fs.linkSync(temp, lockPath);
    return true;
  } catch (error) {
    if (error.code !== "EEXIST") throw error;
    return false;
  }
}

async function storm(sessionFile, iterations, marker, staleEvery) {
  let acquired = 0;
  let violations = 0;
  let staleLeft = 0;
  // Stale files owed (one per STALE_EVERY iterations) and the one ready to be linked: a waiter
  // often takes the freed path first, so an unlanded file is tried again after the next release.
  let owed = 0;
  let pending = null;
  for (let i = 1; i <= iterations; i++) {
    const lock = await contender(sessionFile);
    acquired++;
    if (enter(marker)) {
      Atomics.wait(pause, 0, 0, 0.05); // stay inside for ~50 µs, like the other workers
      fs.unlinkSync(marker);
    } else {
      violations++;
    }
    if (i % staleEvery === 0) owed++;
    if (owed > 0 && !pending) pending = prepareStaleLegacyLock(sessionFile); // while still holding
    await lock.release();
    if (pending && linkStaleLegacyLock(pending, lock.lockPath)) {
      fs.unlinkSync(pending);
      pending = null;
      owed--;
      staleLeft++;
    }
  }
  if (pending) fs.unlinkSync(pending);
  say(`acquired=${acquired} violations=${violations} stale_left=${staleLeft}`);
}

async function victim(sessionFile, marker) {
  await contender(sessionFile);
  if (!enter(marker)) {
    say("violation");
    process.exit(3);
  }
  say(`held ${process.pid}`);
  // Until SIGKILL. EOF means the orchestrator is gone: leave like a crash, without releasing.
  process.stdin.on("end", () => process.kill(process.pid, "SIGKILL"));
  process.stdin.resume();
}

async function tryOnce(sessionFile, timeoutMs) {
  try {
    const lock = await acquireSessionWriteLock({ sessionFile, timeoutMs, allowReentrant: false });
    await lock.release();
    say("acquired");
  } catch (error) {
    if (error.reason === "session_busy") {
      say(`busy ${error.message}`);
      process.exitCode = 1;
    } else {
      say(`error ${error.code ?? error.name} ${error.message}`);
      process.exitCode = 2;
    }
  }
}

async function hold(sessionFile) {
  const logged = [];
  let sawLog;
  const firstLog = new Promise((resolve) => (sawLog = resolve));
  setSessionWriteLockLogger((line) => {
    logged.push(line);
    say(`log ${line}`);
    sawLog();
  });
  const lock = await acquireSessionWriteLock({ sessionFile });
  say(`held ${process.pid}`);
  await new Promise((resolve) => process.stdin.once("data", resolve));
  process.stdin.pause();
  await lock.release();
  say("released ok");
  // Log lines arrive from the lock service's thread; give a compromise report time to come.
  let timer;
  await Promise.race([firstLog, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
  clearTimeout(timer);
  if (logged.length === 0) say("nolog");
}

const [mode, file, ...rest] = process.argv.slice(2);
const modes = {
  storm: () => storm(file, Number(rest[0]), rest[1], Number(rest[2])),
  victim: () => victim(file, rest[0]),
  try: () => tryOnce(file, Number(rest[0])),
  hold: () => hold(file),
};
if (!modes[mode]) {
  console.error("usage: node_worker.cjs storm|victim|try|hold FILE …");
  process.exit(2);
}
modes[mode]().catch((error) => {
  console.error(`node-worker ${mode}: ${error.stack ?? error}`);
  process.exit(10);
});
