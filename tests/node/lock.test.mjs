// The general face, session-write-lock/lock (docs/PROTOCOL.md, "The general Node face"): lock
// and release, busy from another process, a SIGKILLed holder taken over by one try, `timeoutMs:
// 0` is one try, no watchdog and no process listeners unless asked, `onLost`, disposal, and lock
// files of other programs kept (or read as dotlocks when asked).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import test from "node:test";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import {
  DEFAULTS,
  lock,
  lockSync,
  LockBusyError,
  LockCompromisedError,
  releaseOnExit,
  tryLock,
  tryLockSync,
  withLock,
  withLockSync,
} from "../../npm/lock.mjs";
import { deadPid, isoAgo, sessionsDir, stats, track, waitUntilWaiting, writeLegacyLock } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const native = require("../../npm/native.js");
const { unregisterProcessCleanup } = require("../../npm/cleanup.js");
const here = path.dirname(fileURLToPath(import.meta.url));

/** A child holding the lock of `file` through the general face; resolves once it holds it. */
async function startGeneralHolder(t, file) {
  const child = spawn(process.execPath, [path.join(here, "fixtures/general-holder.mjs"), file], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  t.after(() => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const next = async () => JSON.parse((await lines.next()).value);
  const ready = await next();
  assert.equal(ready.event, "ready");
  return { ...ready, child, exited, next };
}

/** A process that is alive and is not the gateway. */
function startSleeper(t) {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
  t.after(() => child.kill("SIGKILL"));
  return child;
}

/**
 * `promise`, with the event loop kept alive meanwhile: `onLost`'s timer is unref'd (it never
 * keeps a process alive), so a test that only awaits it would end early.
 */
async function awaitAlive(promise) {
  const alive = setInterval(() => {}, 1_000);
  try {
    return await promise;
  } finally {
    clearInterval(alive);
  }
}

const listenerCounts = () => ["SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT", "exit"].map((e) => process.listenerCount(e));

test("the defaults: wait 60 s, no watchdog, foreign files kept", () => {
  assert.deepEqual({ ...DEFAULTS }, { timeoutMs: 60_000, maxHoldMs: Infinity, foreign: "keep" });
});

test("lock, release: the file is there while held, without a max-hold, and gone after", async (t) => {
  const file = path.join(sessionsDir(t), "data.json");
  const held = await lock(file);
  assert.equal(held.lockPath, `${file}.lock`);
  const payload = JSON.parse(fs.readFileSync(held.lockPath, "utf8"));
  assert.equal(payload.flock, true);
  assert.equal(payload.pid, process.pid);
  assert.equal("maxHoldMs" in payload, false, "no watchdog recorded");
  assert.equal(held.held, true);
  held.assertOwned();
  await held.release();
  assert.equal(fs.existsSync(held.lockPath), false);
  assert.equal(held.held, false);
  await held.release(); // again: nothing to do
  assert.throws(() => held.assertOwned(), LockCompromisedError);
});

test("busy from another process: tryLock gives null, lock a LockBusyError naming the holder", async (t) => {
  const file = path.join(sessionsDir(t), "shared.txt");
  const holder = await startGeneralHolder(t, file);
  assert.equal(await tryLock(file), null);
  assert.equal(tryLockSync(file), null);
  const error = await lock(file, { timeoutMs: 100 }).then(
    () => assert.fail("got a held lock"),
    (e) => e,
  );
  assert.ok(error instanceof LockBusyError);
  assert.equal(error.code, "ELOCKED");
  assert.equal(error.timeoutMs, 100);
  assert.deepEqual([error.holder.pid, error.holder.alive, error.holder.thisProcess], [holder.pid, true, false]);
  assert.match(error.message, /lock busy: .*shared\.txt\.lock is held by pid=\d+ alive=true/);
  // A waiter gets it when the holder lets go.
  const before = stats().waits;
  const waiting = track(lock(file, { timeoutMs: 10_000 }));
  await waitUntilWaiting(before);
  assert.equal(waiting.settled, false);
  holder.child.stdin.write("release\n");
  const held = await waiting.promise;
  await held.release();
});

test("a SIGKILLed holder's lock is taken over by one try", async (t) => {
  const file = path.join(sessionsDir(t), "killed.txt");
  const holder = await startGeneralHolder(t, file);
  assert.equal(await tryLock(file), null);
  holder.child.kill("SIGKILL");
  await holder.exited;
  assert.ok(fs.existsSync(`${file}.lock`), "the dead holder's file is still there");
  const held = await tryLock(file); // one try: no wait, no stale time
  assert.ok(held, "taken over at once");
  await held.release();
});

test("timeoutMs: 0 is exactly one try: nothing is handed to the lock service to wait", async (t) => {
  const file = path.join(sessionsDir(t), "once.txt");
  const held = await lock(file);
  const before = stats().waits;
  await assert.rejects(lock(file, { timeoutMs: 0 }), (e) => e instanceof LockBusyError && e.timeoutMs === 0 && e.holder.thisProcess);
  assert.equal(await tryLock(file), null);
  assert.throws(() => lockSync(file, { timeoutMs: 0 }), LockBusyError);
  assert.equal(stats().waits, before, "no try became a wait");
  await held.release();
});

test("no watchdog by default; maxHoldMs ends a hold and onLost is told", async (t) => {
  const dir = sessionsDir(t);
  const lost = [];
  const kept = await lock(path.join(dir, "long.txt"), { onLost: (e) => lost.push(e) });
  // The watchdog as if 10 min had passed (the gateway's face would end its holds at 5 min).
  assert.equal(native.runWatchdogCheck(Date.now() + 10 * 60_000), 0);
  assert.equal(kept.held, true);
  let told;
  const gone = new Promise((resolve) => (told = resolve));
  const short = await lock(path.join(dir, "short.txt"), { maxHoldMs: 50, onLost: told });
  const error = await awaitAlive(gone);
  assert.throws(() => short.assertOwned(), LockCompromisedError);
  await short.release(); // a lost hold: nothing left to do
  assert.ok(error instanceof LockCompromisedError);
  assert.equal(error.code, "ECOMPROMISED");
  assert.ok(error.path.endsWith("short.txt"));
  assert.equal(fs.existsSync(path.join(dir, "short.txt.lock")), false, "the watchdog removed its file");
  assert.equal(kept.held, true, "the hold without maxHoldMs outlived it");
  assert.deepEqual(lost, []);
  await kept.release();
});

test("onLost and assertOwned when someone removes the lock file", async (t) => {
  const file = path.join(sessionsDir(t), "removed.txt");
  let told;
  const lostOnce = new Promise((resolve) => (told = resolve));
  const held = await lock(file, { onLost: told });
  fs.unlinkSync(held.lockPath);
  const error = await awaitAlive(lostOnce);
  assert.ok(error instanceof LockCompromisedError);
  assert.throws(() => held.assertOwned(), LockCompromisedError);
  await held.release();
});

test("no process listeners unless releaseOnExit() is called", async (t) => {
  const file = path.join(sessionsDir(t), "listeners.txt");
  const before = listenerCounts();
  const held = await lock(file);
  await withLock(`${file}.2`, async () => {});
  withLockSync(`${file}.3`, () => {});
  assert.deepEqual(listenerCounts(), before, "locking added no listener");
  await held.release();
  const holder = await startGeneralHolder(t, `${file}.child`);
  assert.deepEqual(holder.listeners.after, holder.listeners.before, "a process that only locks gets no listener");
  releaseOnExit();
  t.after(unregisterProcessCleanup);
  assert.ok(process.listenerCount("SIGTERM") > before[0], "releaseOnExit() adds them");
});

test("disposal releases: await using where the syntax exists, else Symbol.asyncDispose", async (t) => {
  const file = path.join(sessionsDir(t), "disposed.txt");
  let syntax = true;
  try {
    new vm.Script("(async () => { await using x = null; })");
  } catch {
    syntax = false;
  }
  if (syntax) {
    const run = new vm.Script(`(async (lock, file) => { { await using held = await lock(file); } })`).runInThisContext();
    await run(lock, file);
  } else {
    t.diagnostic(`node ${process.version} has no \`await using\` syntax: Symbol.asyncDispose is called directly`);
    const held = await lock(file);
    await held[Symbol.asyncDispose]();
  }
  assert.equal(fs.existsSync(`${file}.lock`), false);
  const held = lockSync(file);
  held[Symbol.dispose]();
  assert.equal(fs.existsSync(`${file}.lock`), false);
});

test("withLock: the callback's result, and the release however it ends", async (t) => {
  const file = path.join(sessionsDir(t), "with.txt");
  assert.equal(await withLock(file, async (held) => (held.assertOwned(), 42)), 42);
  await assert.rejects(withLock(file, async () => { throw new Error("boom"); }), /boom/);
  assert.equal(fs.existsSync(`${file}.lock`), false);
  assert.equal(withLockSync(file, () => "sync"), "sync");
  assert.throws(() => withLockSync(file, () => { throw new Error("bang"); }), /bang/);
  assert.equal(fs.existsSync(`${file}.lock`), false);
});

test("an AbortSignal ends the wait", async (t) => {
  const file = path.join(sessionsDir(t), "abort.txt");
  const held = await lock(file);
  const controller = new AbortController();
  const waiting = lock(file, { timeoutMs: 10_000, signal: controller.signal });
  controller.abort();
  await assert.rejects(waiting, { name: "AbortError" });
  await held.release();
});

test("bad input is a clear error and locks nothing", async (t) => {
  const file = path.join(sessionsDir(t), "bad.txt");
  await assert.rejects(lock(file, { foreign: "delete-everything" }), { name: "TypeError", code: "ERR_INVALID_ARG_VALUE" });
  await assert.rejects(lock(file, { timeoutMs: -1 }), { name: "RangeError", code: "ERR_OUT_OF_RANGE" });
  await assert.rejects(lock(file, { maxHoldMs: "5" }), { name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
  await assert.rejects(lock(file, { onLost: 1 }), { name: "TypeError" });
  await assert.rejects(lock(file, null), { name: "TypeError" });
  await assert.rejects(tryLock(file, null), { name: "TypeError" });
  assert.throws(() => tryLockSync(file, 5), { name: "TypeError" });
  await assert.rejects(lock(""), { name: "TypeError" });
  await assert.rejects(withLock(file, "not a function"), { name: "TypeError" });
  assert.equal(fs.existsSync(`${file}.lock`), false);
});

test("files of other programs are kept: a 40 s old mailbox.lock, a live non-gateway {pid, createdAt}", async (t) => {
  const dir = sessionsDir(t);
  const mailbox = path.join(dir, "mailbox");
  const dead = deadPid();
  const mailboxLock = writeLegacyLock(mailbox, `${dead}\n`, { ageMs: 40_000 });
  const busy = await lock(mailbox, { timeoutMs: 0 }).then(
    () => assert.fail("took over a file it did not write"),
    (e) => e,
  );
  assert.ok(busy instanceof LockBusyError);
  assert.deepEqual([busy.holder.pid, busy.holder.alive], [dead, false], "the dotlock's pid is reported");
  assert.equal(fs.readFileSync(mailboxLock, "utf8"), `${dead}\n`);

  const other = startSleeper(t);
  const state = path.join(dir, "state.jsonl");
  const content = { pid: other.pid, createdAt: isoAgo(0) };
  const stateLock = writeLegacyLock(state, content);
  assert.equal(await tryLock(state), null);
  assert.equal(tryLockSync(state, { foreign: "dotlock" }), null);
  assert.deepEqual(JSON.parse(fs.readFileSync(stateLock, "utf8")), content);
  // The gateway's rules, opted into, take it over (the gateway's API does so too).
  const taken = await tryLock(state, { foreign: "gateway" });
  assert.ok(taken, "foreign: 'gateway' applies the gateway's rules");
  await taken.release();
});

test("foreign: 'dotlock' takes over a dotlock of a dead pid and reports a live one", async (t) => {
  const dir = sessionsDir(t);
  const deadFile = path.join(dir, "dead");
  writeLegacyLock(deadFile, `${deadPid()}\n`, { ageMs: 0 });
  const held = await tryLock(deadFile, { foreign: "dotlock" });
  assert.ok(held, "a dotlock of a dead pid is stale under the dotlock rule");
  assert.equal(JSON.parse(fs.readFileSync(held.lockPath, "utf8")).flock, true);
  await held.release();

  const live = startSleeper(t);
  const liveFile = path.join(dir, "live");
  const liveLock = writeLegacyLock(liveFile, `${live.pid}`, { ageMs: 3_600_000 });
  const busy = await lock(liveFile, { timeoutMs: 0, foreign: "dotlock" }).then(
    () => assert.fail("took over a live dotlock"),
    (e) => e,
  );
  assert.deepEqual([busy.holder.pid, busy.holder.alive], [live.pid, true]);
  assert.ok(fs.existsSync(liveLock));
});

test("foreign: 'dotlock' waits for a live dotlock's process and takes the lock when it ends", async (t) => {
  const file = path.join(sessionsDir(t), "waited");
  const writer = startSleeper(t);
  await new Promise((resolve) => writer.once("spawn", resolve));
  writeLegacyLock(file, `${writer.pid}\n`);
  const before = stats().waits;
  const waiting = track(lock(file, { foreign: "dotlock", timeoutMs: 30_000 }));
  await waitUntilWaiting(before);
  assert.equal(waiting.settled, false, "a live dotlock is a holder");
  writer.kill("SIGKILL");
  const held = await waiting.promise;
  assert.equal(JSON.parse(fs.readFileSync(held.lockPath, "utf8")).flock, true);
  await held.release();
});
