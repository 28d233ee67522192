// Acquire and release within one process: the lock file, reentrancy, symlinked directories,
// `await using`.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { acquireSessionWriteLock, getInstanceNonce, SessionWriteLockError } from "../../npm/index.mjs";
import { asyncDispose, sessionsDir, starttimeOf, stats, waitUntilWaiting } from "./helpers.mjs";

test("the lock file sits next to the session file and says who holds it", async (t) => {
  const dir = sessionsDir(t);
  const sessionFile = path.join(dir, "nested/new/a.jsonl");
  const lock = await acquireSessionWriteLock({ sessionFile });
  assert.equal(lock.lockPath, path.join(fs.realpathSync(dir), "nested/new/a.jsonl.lock"));
  const payload = JSON.parse(fs.readFileSync(lock.lockPath, "utf8"));
  assert.equal(payload.pid, process.pid);
  assert.equal(payload.nonce, getInstanceNonce());
  assert.equal(payload.starttime, starttimeOf(process.pid));
  assert.equal(payload.hostname, os.hostname());
  assert.equal(payload.flock, true);
  assert.ok(Math.abs(Date.parse(payload.createdAt) - Date.now()) < 5_000);
  await lock.release();
  assert.equal(fs.existsSync(lock.lockPath), false);
  await lock.release(); // a second release does nothing
});

test("the lock file stays until the last reentrant release", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const first = await acquireSessionWriteLock({ sessionFile });
  const second = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1, allowReentrant: true });
  assert.equal(second.lockPath, first.lockPath);
  await first.release();
  assert.equal(fs.existsSync(first.lockPath), true);
  await first.release(); // releasing one handle twice must not end the other's hold
  assert.equal(fs.existsSync(first.lockPath), true);
  await second.release();
  assert.equal(fs.existsSync(first.lockPath), false);
});

test("by default a second acquire in the same process waits", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const held = await acquireSessionWriteLock({ sessionFile });
  await assert.rejects(
    acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }),
    SessionWriteLockError,
  );
  const before = stats().waits;
  const waiting = acquireSessionWriteLock({ sessionFile, timeoutMs: 5_000 });
  await waitUntilWaiting(before);
  await held.release();
  const next = await waiting;
  assert.equal(fs.existsSync(next.lockPath), true);
  await next.release();
});

test("a session reached through a symlinked directory shares one lock", async (t) => {
  const dir = sessionsDir(t);
  const real = path.join(dir, "real");
  const link = path.join(dir, "link");
  fs.mkdirSync(real);
  fs.symlinkSync(real, link);
  const viaLink = await acquireSessionWriteLock({ sessionFile: path.join(link, "a.jsonl") });
  assert.equal(viaLink.lockPath, path.join(fs.realpathSync(real), "a.jsonl.lock"));
  await assert.rejects(
    acquireSessionWriteLock({ sessionFile: path.join(real, "a.jsonl"), timeoutMs: 1 }),
    SessionWriteLockError,
  );
  const viaReal = await acquireSessionWriteLock({
    sessionFile: path.join(real, "a.jsonl"),
    timeoutMs: 1,
    allowReentrant: true,
  });
  assert.equal(viaReal.lockPath, viaLink.lockPath);
  await viaLink.release();
  await viaReal.release();
  assert.equal(fs.existsSync(viaLink.lockPath), false);
});

test("handles are async-disposable (await using)", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lock = await acquireSessionWriteLock({ sessionFile });
  assert.equal(typeof lock[asyncDispose], "function");
  await lock[asyncDispose]();
  assert.equal(fs.existsSync(lock.lockPath), false);
});

test("a free lock is taken without waiting for the lock service", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const cycles = 2_000;
  const before = stats();
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    const lock = await acquireSessionWriteLock({ sessionFile });
    await lock.release();
  }
  const perCycleUs = ((performance.now() - started) * 1000) / cycles;
  t.diagnostic(`acquire+release: ${perCycleUs.toFixed(1)} µs per cycle (figures: scripts/bench.sh)`);
  assert.deepEqual(stats(), before, "no acquire was handed to the lock service to wait");
});
