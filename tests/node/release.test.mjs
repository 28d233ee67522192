// Force-releases: release-all, nonce takeover (an in-process restart that never released) and
// the max-hold watchdog. Old handles become no-ops and never release a newer lock.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  acquireSessionWriteLock,
  getInstanceNonce,
  releaseAllSessionWriteLocks,
  releaseAllSessionWriteLocksSync,
  resetInstanceNonce,
  setSessionWriteLockLogger,
} from "../../npm/index.mjs";
import { sessionsDir } from "./helpers.mjs";

const nonceOf = (lockPath) => JSON.parse(fs.readFileSync(lockPath, "utf8")).nonce;

async function holdThree(t) {
  const dir = sessionsDir(t);
  const locks = [];
  for (const name of ["a", "b", "c"]) locks.push(await acquireSessionWriteLock({ sessionFile: path.join(dir, `${name}.jsonl`) }));
  locks.push(await acquireSessionWriteLock({ sessionFile: path.join(dir, "a.jsonl"), allowReentrant: true }));
  return locks;
}

for (const [name, releaseAll] of [
  ["releaseAllSessionWriteLocks", releaseAllSessionWriteLocks],
  ["releaseAllSessionWriteLocksSync", releaseAllSessionWriteLocksSync],
]) {
  test(`${name} removes every held lock and rotates the nonce`, async (t) => {
    const locks = await holdThree(t);
    const nonce = getInstanceNonce();
    assert.equal(await releaseAll(), 3);
    for (const lock of locks) assert.equal(fs.existsSync(lock.lockPath), false);
    assert.notEqual(getInstanceNonce(), nonce);
    assert.equal(await releaseAll(), 0); // idempotent

    // Old handles are no-ops, even once the same file is locked again.
    const again = await acquireSessionWriteLock({ sessionFile: locks[0].lockPath.replace(/\.lock$/, "") });
    for (const lock of locks) await lock.release();
    assert.equal(fs.existsSync(again.lockPath), true);
    await again.release();
  });
}

test("a new nonce takes over a lock the previous iteration never released", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const old = await acquireSessionWriteLock({ sessionFile });
  const oldNonce = nonceOf(old.lockPath);
  const newNonce = resetInstanceNonce(); // a restart whose close handler did not release
  const started = performance.now();
  const current = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  t.diagnostic(`takeover in ${(performance.now() - started).toFixed(2)} ms`);
  assert.notEqual(newNonce, oldNonce);
  assert.equal(nonceOf(current.lockPath), newNonce);
  await old.release(); // must not release the new iteration's lock
  assert.equal(fs.existsSync(current.lockPath), true);
  assert.equal(nonceOf(current.lockPath), newNonce);
  await current.release();
  assert.equal(fs.existsSync(current.lockPath), false);
});

test("the watchdog releases a lock while the event loop is blocked", async (t) => {
  // docs/PROTOCOL.md: the watchdog runs in a native thread, so a wedged event loop does not
  // stop it. The JS thread below never yields until the file is gone (or 10 s have passed).
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lock = await acquireSessionWriteLock({ sessionFile, maxHoldMs: 200 });
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const started = performance.now();
  let gone = false;
  while (!gone && performance.now() - started < 10_000) {
    Atomics.wait(pause, 0, 0, 10); // sleeps this thread: no timer, callback or promise runs
    gone = !fs.existsSync(lock.lockPath);
  }
  assert.ok(gone, "the lock file was removed while the event loop never turned");
});

test("the watchdog releases a lock held past maxHoldMs, and logs it", async (t) => {
  const lines = [];
  setSessionWriteLockLogger((line) => lines.push(line));
  t.after(() => setSessionWriteLockLogger(null));
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const started = performance.now();
  const old = await acquireSessionWriteLock({ sessionFile, maxHoldMs: 200 });
  while (fs.existsSync(old.lockPath)) {
    assert.ok(performance.now() - started < 3_000, "the watchdog did not fire");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.diagnostic(`released by the watchdog after ${(performance.now() - started).toFixed(0)} ms`);
  while (lines.length === 0) {
    assert.ok(performance.now() - started < 10_000, "the watchdog's log line never arrived"); // it hops threads
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.match(lines[0], /^\[session-write-lock\] releasing lock held for \d+ms \(max=200ms\): /);
  assert.ok(lines[0].endsWith(old.lockPath), lines[0]);

  const current = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  await old.release(); // the old handle cannot release the new lock
  assert.equal(fs.existsSync(current.lockPath), true);
  await current.release();
});
