// Holding a lock the gateway's newest way: AbortSignal for the wait only, nesting by owner
// identity, assertOwned(), the payload's maxHoldMs/owner, and the test hooks.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  acquireSessionWriteLock,
  drainSessionWriteLockStateForTest,
  listHeldSessionWriteLocks,
  releaseAllSessionWriteLocks,
  resetInstanceNonce,
  resetSessionWriteLockStateForTest,
  SessionWriteLockStaleError,
  SessionWriteLockTimeoutError,
  testing,
  __testing,
} from "../../npm/index.mjs";
import { serviceSleeps, sessionsDir, starttimeOf, stats, until, waitUntilWaiting } from "./helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

const payloadOf = (lockPath) => JSON.parse(fs.readFileSync(lockPath, "utf8"));

test("an already aborted signal rejects at once with its reason, before any file work", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "new-dir/a.jsonl");
  const reason = new Error("turn cancelled");
  await assert.rejects(acquireSessionWriteLock({ sessionFile, signal: AbortSignal.abort(reason) }), (e) => e === reason);
  const controller = new AbortController();
  controller.abort("not an Error");
  await assert.rejects(acquireSessionWriteLock({ sessionFile, signal: controller.signal }), (e) => {
    assert.equal(e.name, "AbortError");
    assert.equal(e.message, "request aborted");
    assert.equal(e.cause, "not an Error");
    return true;
  });
  assert.equal(fs.existsSync(path.dirname(sessionFile)), false, "no directory was created");
});

test("a signal that is not an AbortSignal is a TypeError before any wait starts", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const held = await acquireSessionWriteLock({ sessionFile });
  for (const signal of [{}, { aborted: false }, null, "abort"]) {
    await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 60_000, signal }), (e) => {
      assert.ok(e instanceof TypeError, String(e));
      assert.equal(e.code, "ERR_INVALID_ARG_TYPE");
      assert.match(e.message, /^invalid signal: must be an AbortSignal, got /);
      return true;
    });
  }
  await held.release();
  // No wait went on behind the rejections: the lock is free to the next one, and no hold of
  // this process is left that nobody can release.
  const next = await acquireSessionWriteLock({ sessionFile, timeoutMs: 5_000 });
  assert.deepEqual(listHeldSessionWriteLocks().map((h) => h.lockPath), [next.lockPath]);
  await next.release();
});

/**
 * A lock this thread holds and an abortable wait for it, once the wait is the lock service's:
 * the acquire was handed over (its command sent as `waits` was counted), and the service has
 * taken it in and sleeps again.
 */
async function abortableWaitBehindOwnHold(t) {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const held = await acquireSessionWriteLock({ sessionFile });
  const controller = new AbortController();
  const before = stats().waits;
  const waiting = acquireSessionWriteLock({ sessionFile, timeoutMs: Infinity, signal: controller.signal });
  await waitUntilWaiting(before);
  await until("the lock service has taken the waiter in", serviceSleeps);
  return { sessionFile, held, controller, waiting };
}

test("an abort during the wait rejects and leaves no lock behind", async (t) => {
  const { sessionFile, held, controller, waiting } = await abortableWaitBehindOwnHold(t);
  const reason = new Error("stop");
  const looks = stats().timerReinspections;
  controller.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
  assert.equal(stats().timerReinspections, looks, "answered because of the abort, not found by a timed look");
  await held.release();
  // Once the service has handled the release, the cancelled waiter must not have taken it.
  await until("the lock service has handled the release", serviceSleeps);
  assert.equal(fs.existsSync(held.lockPath), false);
  const next = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  await next.release();
});

test("an abort racing a grant: the late lock is released, the abort wins", async (t) => {
  const { sessionFile, held, controller, waiting } = await abortableWaitBehindOwnHold(t);
  // The release hands the lock to the waiter natively; the JS thread does not turn until the
  // new file is there (the grant happened), and then aborts before the grant can settle.
  const heldPath = held.lockPath;
  const releasing = held.release(); // not awaited: the event loop must not turn before the abort
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const started = performance.now(); !fs.existsSync(heldPath); ) {
    assert.ok(performance.now() - started < 10_000, "the waiter was never granted the lock");
    Atomics.wait(pause, 0, 0, 1);
  }
  const reason = new Error("too late");
  controller.abort(reason);
  await releasing;
  await assert.rejects(waiting, (e) => e === reason, "the abort wins: the caller never sees the lock");
  // The lock granted late is released: no file, and another try gets it at once.
  await until("the late lock is released", () => !fs.existsSync(heldPath));
  const next = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  await next.release();
});

test("an abort after the grant keeps the lock", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const controller = new AbortController();
  const lock = await acquireSessionWriteLock({ sessionFile, signal: controller.signal });
  controller.abort();
  // Whatever the abort could set off (a listener, a release on the pool, the lock service)
  // has run once the event loop has turned and the service sleeps again.
  await new Promise((resolve) => setImmediate(resolve));
  await until("the lock service has handled the abort", serviceSleeps);
  assert.equal(fs.existsSync(lock.lockPath), true);
  lock.assertOwned();
  await lock.release();
});

test("nesting: none by default, with the same reentrantOwner, or allowReentrant", async (t) => {
  const dir = sessionsDir(t);
  const real = path.join(dir, "real");
  fs.mkdirSync(real);
  fs.symlinkSync(real, path.join(dir, "link"));
  const viaReal = path.join(real, "a.jsonl");
  const viaLink = path.join(dir, "link", "a.jsonl");
  const first = await acquireSessionWriteLock({ sessionFile: viaReal, reentrantOwner: "run-1" });
  await assert.rejects(acquireSessionWriteLock({ sessionFile: viaLink, timeoutMs: 20 }), SessionWriteLockTimeoutError);
  await assert.rejects(
    acquireSessionWriteLock({ sessionFile: viaLink, timeoutMs: 20, reentrantOwner: "run-2" }),
    SessionWriteLockTimeoutError,
  );
  const nested = await acquireSessionWriteLock({ sessionFile: viaLink, timeoutMs: 20, reentrantOwner: "run-1" });
  const joined = await acquireSessionWriteLock({ sessionFile: viaLink, timeoutMs: 20, allowReentrant: true });
  assert.equal(nested.lockPath, first.lockPath);
  await first.release();
  await nested.release();
  assert.equal(fs.existsSync(first.lockPath), true, "the last nested hold keeps the file");
  await joined.release();
  assert.equal(fs.existsSync(first.lockPath), false);
});

test("the payload carries maxHoldMs and the owner label (at most 200 characters)", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lock = await acquireSessionWriteLock({ sessionFile, maxHoldMs: 90_000, owner: "turn-42" });
  const payload = payloadOf(lock.lockPath);
  assert.equal(payload.maxHoldMs, 90_000);
  assert.equal(payload.owner, "turn-42");
  assert.equal(payload.starttime, starttimeOf(process.pid));
  await lock.release();
  const labelled = await acquireSessionWriteLock({ sessionFile, reentrantOwner: "x".repeat(300) });
  assert.equal(payloadOf(labelled.lockPath).owner, "x".repeat(200), "reentrantOwner labels the hold when owner is missing");
  await labelled.release();
});

function assertLeaseLost(lock) {
  assert.throws(
    () => lock.assertOwned(),
    (e) => {
      assert.ok(e instanceof SessionWriteLockStaleError);
      assert.deepEqual(e.staleReasons, ["lease-lost"]);
      assert.equal(e.message, `session file lock stale (lease-lost): pid=${process.pid} alive=true ${lock.lockPath}`);
      return true;
    },
  );
}

test("assertOwned: passes while held; lease-lost after release-all", async (t) => {
  const lock = await acquireSessionWriteLock({ sessionFile: path.join(sessionsDir(t), "a.jsonl") });
  lock.assertOwned();
  await releaseAllSessionWriteLocks();
  assertLeaseLost(lock);
});

test("assertOwned: lease-lost after the watchdog", async (t) => {
  const lock = await acquireSessionWriteLock({ sessionFile: path.join(sessionsDir(t), "a.jsonl"), maxHoldMs: 60_000 });
  assert.equal(await testing.runLockWatchdogCheck(Date.now() + 30_000), 0, "not due yet");
  lock.assertOwned();
  assert.equal(await testing.runLockWatchdogCheck(Date.now() + 61_000), 1);
  assert.equal(fs.existsSync(lock.lockPath), false);
  assertLeaseLost(lock);
});

test("assertOwned: lease-lost when another process replaced or removed the file", async (t) => {
  const lock = await acquireSessionWriteLock({ sessionFile: path.join(sessionsDir(t), "a.jsonl") });
  const replacement = `${lock.lockPath}.other`;
  fs.writeFileSync(replacement, JSON.stringify({ pid: 1, createdAt: new Date().toISOString() }));
  fs.renameSync(replacement, lock.lockPath);
  assertLeaseLost(lock);
  const other = await acquireSessionWriteLock({ sessionFile: path.join(sessionsDir(t), "b.jsonl") });
  fs.unlinkSync(other.lockPath);
  assertLeaseLost(other);
  await lock.release();
  await other.release();
});

test("assertOwned: lease-lost after a nonce takeover (a restart that never released)", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const old = await acquireSessionWriteLock({ sessionFile });
  resetInstanceNonce();
  const current = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  assertLeaseLost(old);
  current.assertOwned();
  await current.release();
});

test("assertOwned after this handle's own release is lease-lost too", async (t) => {
  const lock = await acquireSessionWriteLock({ sessionFile: path.join(sessionsDir(t), "a.jsonl") });
  await lock.release();
  assertLeaseLost(lock);
});

test("testing hooks: one object under two names, pure helpers", async (t) => {
  assert.equal(__testing, testing);
  assert.deepEqual(testing.cleanupSignals, ["SIGINT", "SIGTERM", "SIGQUIT", "SIGABRT"]);
  assert.equal(testing.resolveRemainingAcquireTimeoutMs(500, 1_000, 1_125), 375);
  assert.equal(testing.resolveRemainingAcquireTimeoutMs(500, 1_000, 1_500), 0);
  assert.equal(testing.resolveRemainingAcquireTimeoutMs(Infinity, 1_000, 9_000), Infinity);
  const now = Date.now();
  const old = new Date(now - 2 * 60 * 60 * 1000).toISOString();
  const verdict = (payload, options) => testing.inspectLockPayloadForTest(payload, 30 * 60 * 1000, now, options);
  assert.deepEqual(verdict({}), {
    pid: null,
    pidAlive: false,
    createdAt: null,
    ageMs: null,
    stale: true,
    staleReasons: ["missing-pid", "invalid-createdAt"],
  });
  assert.deepEqual(verdict({ pid: process.pid, createdAt: old, starttime: starttimeOf(process.pid) }).staleReasons, ["too-old", "orphan-self-pid"]);
  const pastHold = { pid: process.ppid, createdAt: new Date(now - 10_000).toISOString(), maxHoldMs: 1_000 };
  assert.deepEqual(verdict(pastHold).staleReasons, []);
  assert.deepEqual(verdict(pastHold, { respectMaxHold: true }).staleReasons, ["hold-exceeded"]);
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lock = await acquireSessionWriteLock({ sessionFile, maxHoldMs: 60_000 });
  assert.equal(await testing.runLockWatchdogCheck(Date.now()), 0);
  assert.equal(testing.releaseAllLocksSync(), 1);
  assert.equal(fs.existsSync(lock.lockPath), false);
});

test("inspectLockPayloadForTest takes the gateway's defaults: our own pid without a starttime is no orphan", () => {
  const now = Date.now();
  // Our pid, no starttime, 30 s old, past a 10 s hold; not held by us, staleMs 60 s.
  const own = (maxHoldMs) => ({ pid: process.pid, createdAt: new Date(now - 30_000).toISOString(), maxHoldMs });
  const verdict = (payload, options) => testing.inspectLockPayloadForTest(payload, 60_000, now, options);
  const overHold = verdict(own(10_000), { respectMaxHold: true });
  assert.equal(overHold.stale, true);
  assert.deepEqual(overHold.staleReasons, ["hold-exceeded"]);
  assert.deepEqual(verdict(own(10_000)).staleReasons, [], "no hold rule unless asked for, and no orphan");
  const withinHold = verdict(own(60_000), { respectMaxHold: true });
  assert.deepEqual([withinHold.pid, withinHold.pidAlive, withinHold.stale, withinHold.staleReasons], [process.pid, true, false, []]);
});

test("under the gateway's test runner (VITEST=true) a hold past its max-hold is ended only by runLockWatchdogCheck, never by an acquire of this process", (t) => {
  // In a process of its own: the switch is process-wide. Our file, then the file rewritten in
  // place as the gateway's module writes it, saying the hold is long over.
  for (const format of ["ours", "legacy"]) {
    const sessionFile = path.join(sessionsDir(t), `${format}.jsonl`);
    const out = execFileSync(process.execPath, [path.join(here, "fixtures/own-hold-past-max.mjs"), sessionFile, format], {
      env: { ...process.env, VITEST: "true", OPENCLAW_TEST_SESSION_LOCK_WATCHDOG: "" },
      encoding: "utf8",
    });
    assert.deepEqual(
      JSON.parse(out),
      { second: "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT", keptWhileContended: true, ended: 1, goneAfter: true },
      format,
    );
  }
});

const EVENTS = ["exit", "SIGINT", "SIGTERM", "SIGQUIT", "SIGABRT"];
const counts = () => EVENTS.map((event) => process.listenerCount(event));

test("reset and drain release everything and return listener counts to their baseline", async (t) => {
  resetSessionWriteLockStateForTest();
  const baseline = counts();
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  for (let cycle = 0; cycle < 3; cycle++) {
    const lock = await acquireSessionWriteLock({ sessionFile });
    assert.deepEqual(counts(), baseline.map((n) => n + 1));
    resetSessionWriteLockStateForTest();
    assert.equal(fs.existsSync(lock.lockPath), false);
    assert.deepEqual(counts(), baseline);
  }
  const lock = await acquireSessionWriteLock({ sessionFile });
  await drainSessionWriteLockStateForTest();
  assert.deepEqual(counts(), baseline);
  await lock.release();
});

test("handleTerminationSignal releases every lock and, with another listener, does not re-raise", async (t) => {
  const lock = await acquireSessionWriteLock({ sessionFile: path.join(sessionsDir(t), "a.jsonl") });
  let otherCalls = 0;
  const other = () => otherCalls++;
  process.on("SIGTERM", other);
  t.after(() => process.off("SIGTERM", other));
  testing.handleTerminationSignal("SIGTERM"); // would end this process if it re-raised
  assert.equal(fs.existsSync(lock.lockPath), false);
  assert.equal(otherCalls, 0, "the lock module does not call other listeners");
});
