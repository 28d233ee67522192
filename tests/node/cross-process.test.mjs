// Locks between processes: hand-off on release, a killed holder, and waiting that never
// occupies libuv's thread pool.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { acquireSessionWriteLock, SessionWriteLockError } from "../../npm/index.mjs";
import { epochNow, sessionsDir, startHolder, stats, track, waitUntilWaiting } from "./helpers.mjs";

test("a waiter gets the lock right after another process releases it", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const holder = await startHolder([sessionFile]);
  t.after(() => holder.kill());
  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }), (error) => {
    assert.ok(error instanceof SessionWriteLockError);
    assert.match(error.owner, new RegExp(`^pid=${holder.pid} alive=true ageMs=\\d+$`));
    assert.equal(error.ownerPid, holder.pid);
    assert.equal(error.ownerPidAlive, true);
    return true;
  });
  const before = stats().waits;
  const waiting = acquireSessionWriteLock({ sessionFile, timeoutMs: 10_000 });
  await waitUntilWaiting(before); // the release below is what it must notice
  holder.send("release");
  const lock = await waiting;
  const acquiredAt = epochNow();
  const { event, at } = await holder.next();
  assert.equal(event, "released");
  const delayMs = acquiredAt - at;
  t.diagnostic(`hand-off delay from the holder's release() to the waiter holding the lock: ${delayMs.toFixed(2)} ms`);
  assert.ok(delayMs < 2_000, `${delayMs} ms`);
  await lock.release();
});

test("a SIGKILLed holder is noticed by a waiting process", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const holder = await startHolder([sessionFile]);
  const before = stats().waits;
  const waiting = acquireSessionWriteLock({ sessionFile, timeoutMs: 10_000 });
  await waitUntilWaiting(before);
  const killedAt = performance.now();
  await holder.kill("SIGKILL");
  const lock = await waiting;
  const delayMs = performance.now() - killedAt;
  t.diagnostic(`lock taken ${delayMs.toFixed(1)} ms after SIGKILL of the holder`);
  assert.ok(delayMs < 2_000, `${delayMs} ms`);
  assert.equal(JSON.parse(fs.readFileSync(lock.lockPath, "utf8")).pid, process.pid);
  await lock.release();
});

test("64 waiting acquisitions leave the libuv pool free", async (t) => {
  const dir = sessionsDir(t);
  const files = Array.from({ length: 64 }, (_, i) => path.join(dir, `s${i}.jsonl`));
  const holder = await startHolder(files);
  t.after(() => holder.kill());
  const before = stats().waits;
  const waiters = files.map((sessionFile) => track(acquireSessionWriteLock({ sessionFile, timeoutMs: 20_000 })));
  await waitUntilWaiting(before + files.length - 1); // all 64 are waiting

  const probe = path.join(dir, "probe.txt");
  fs.writeFileSync(probe, "ok");
  const started = performance.now();
  // Several reads at once: more than the pool's four threads would be blocked by waiters.
  const reads = await Promise.all(Array.from({ length: 8 }, () => fs.promises.readFile(probe, "utf8")));
  const latencyMs = performance.now() - started;
  t.diagnostic(`8 fs.promises.readFile calls took ${latencyMs.toFixed(2)} ms with 64 acquisitions waiting`);
  assert.deepEqual(new Set(reads), new Set(["ok"]));
  assert.equal(waiters.filter((w) => w.settled).length, 0, "the waiters are still waiting");
  assert.ok(latencyMs < 1_000, `${latencyMs} ms`);

  holder.send("release");
  const locks = await Promise.all(waiters.map((w) => w.promise));
  for (const lock of locks) await lock.release();
});
