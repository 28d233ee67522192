// session-write-lock/file-lock against the real @openclaw/fs-safe 0.21 (installed into
// tests/node/fs-safe/ by scripts/setup.sh), each in its own processes: exclusion both ways,
// release only of exact bytes, stale recovery both ways through the hooks, killed holders of
// either kind, and `.reclaim` guards left by killed reclaimers.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { sessionsDir } from "./helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const { acquireFileLock, acquireFileLockSync } = createRequire(import.meta.url)("../../npm/file-lock.js");
const peerScript = path.join(here, "fixtures/file-lock-peer.mjs");
const pidIsDead = ({ payload }) => {
  try {
    process.kill(payload?.pid, 0);
    return false;
  } catch (error) {
    return error.code === "ESRCH";
  }
};
const deadPidHooks = { staleRecovery: "remove-if-unchanged", shouldReclaim: pidIsDead, shouldRemoveStaleLock: pidIsDead };
const payload = () => ({ pid: process.pid, createdAt: new Date().toISOString(), impl: "test" });

/** A peer process (fixtures/file-lock-peer.mjs); `next(event)` reads its next event, which must be `event`. */
function startPeer(t, config) {
  const child = spawn(process.execPath, [peerScript, JSON.stringify(config)], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  t.after(() => child.kill("SIGKILL"));
  const events = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    child,
    exited,
    send: (line) => child.stdin.write(`${line}\n`),
    async next(expected) {
      const { value, done } = await events.next();
      assert.ok(!done, `the ${config.impl} peer exited while the test expected ${expected}`);
      const event = JSON.parse(value);
      assert.equal(event.event, expected, `the ${config.impl} peer said ${value}`);
      return event;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A lock file left by a holder of `impl` that was SIGKILLed while holding it. */
async function killedHolder(t, impl, target) {
  const holder = startPeer(t, { impl, target, mode: "hold" });
  const { lockPath } = await holder.next("held");
  await holder.kill();
  assert.ok(fs.existsSync(lockPath), "the killed holder's lock file stays");
  return lockPath;
}

/** A reclaimer of `impl` of a killed fs-safe holder's lock, stopped inside its guard (shouldRemoveStaleLock). */
async function reclaimerInGuard(t, impl, target) {
  const lockPath = await killedHolder(t, "fs-safe", target);
  const reclaimer = startPeer(t, { impl, target, mode: "acquire", hooks: "block-in-remove" });
  await reclaimer.next("in-remove");
  const guard = `${lockPath}.reclaim`;
  assert.ok(fs.statSync(guard).isDirectory(), "the reclaimer holds its guard");
  return Object.assign(reclaimer, {
    guard,
    async finish() {
      reclaimer.send("go");
      await reclaimer.next("acquired");
      await reclaimer.exited;
    },
  });
}

/** The guard a reclaimer of `impl` leaves when SIGKILLed inside shouldRemoveStaleLock (a stale fs-safe lock stays too). */
async function abandonedGuard(t, impl, target) {
  const reclaimer = await reclaimerInGuard(t, impl, target);
  await reclaimer.kill();
  assert.ok(fs.statSync(reclaimer.guard).isDirectory(), "the killed reclaimer left its guard");
  return reclaimer.guard;
}

const leftovers = (dir) => fs.readdirSync(dir).filter((name) => name !== "t");

test("an fs-safe holder excludes ours; ours takes the lock once it releases", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const holder = startPeer(t, { impl: "fs-safe", target, mode: "hold" });
  const { lockPath } = await holder.next("held");
  const busy = await acquireFileLock(target, { payload, timeoutMs: 300 }).catch((e) => e);
  assert.equal(busy.code, "file_lock_timeout");
  assert.equal(busy.lockPath, lockPath);
  const waiting = acquireFileLock(target, { payload });
  holder.send("release");
  await holder.next("released");
  const handle = await waiting;
  assert.equal(JSON.parse(fs.readFileSync(lockPath, "utf8")).impl, "test");
  await handle.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("our holder excludes fs-safe; fs-safe takes the lock once we release", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const handle = await acquireFileLock(target, { payload });
  const busy = startPeer(t, { impl: "fs-safe", target, mode: "acquire", options: { timeoutMs: 300 } });
  assert.equal((await busy.next("error")).code, "file_lock_timeout");
  await handle.release();
  const after = startPeer(t, { impl: "fs-safe", target, mode: "acquire", options: { timeoutMs: 5000 } });
  await after.next("acquired");
  await after.exited;
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("the sync twin excludes and is excluded by fs-safe too", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const holder = startPeer(t, { impl: "fs-safe", target, mode: "hold" });
  await holder.next("held");
  assert.throws(() => acquireFileLockSync(target, { payload, timeoutMs: 100 }), { code: "file_lock_timeout" });
  holder.send("release");
  await holder.next("released");
  const handle = acquireFileLockSync(target, { payload });
  const busy = startPeer(t, { impl: "fs-safe", target, mode: "acquire", options: { timeoutMs: 300 } });
  assert.equal((await busy.next("error")).code, "file_lock_timeout");
  handle.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("a release removes only its own exact bytes, both ways", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  // Ours holds; its file is removed behind its back and fs-safe takes the lock.
  const ours = await acquireFileLock(target, { payload });
  fs.rmSync(ours.lockPath);
  const theirs = startPeer(t, { impl: "fs-safe", target, mode: "hold" });
  await theirs.next("held");
  assert.equal(await ours.verifyStillHeld(), false);
  await ours.release();
  assert.equal(JSON.parse(fs.readFileSync(ours.lockPath, "utf8")).impl, "fs-safe", "fs-safe's file stays");
  // The other way round: fs-safe's file removed behind its back, ours takes it.
  fs.rmSync(ours.lockPath);
  const again = await acquireFileLock(target, { payload });
  theirs.send("release");
  await theirs.next("released");
  assert.equal(await again.verifyStillHeld(), true, "fs-safe's release left our file alone");
  await again.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("a killed fs-safe holder: ours reclaims through the hooks, and only through them", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  await killedHolder(t, "fs-safe", target);
  const young = await acquireFileLock(target, { payload, timeoutMs: 200 }).catch((e) => e);
  assert.equal(young.code, "file_lock_timeout", "default rule: 30 s, not stale yet");
  const failClosed = await acquireFileLock(target, { payload, staleMs: 0 }).catch((e) => e);
  assert.equal(failClosed.code, "file_lock_stale", "fail-closed by default");
  let asked;
  const handle = await acquireFileLock(target, {
    payload,
    ...deadPidHooks,
    shouldRemoveStaleLock: (snapshot) => {
      asked = snapshot;
      return pidIsDead(snapshot);
    },
  });
  assert.equal(asked.payload.impl, "fs-safe");
  assert.match(asked.raw, /\n\t{8}[ \t]{128}\n$/, "the hook gets the exact bytes, token line included");
  await handle.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("a killed holder of ours: ours takes it at once without hooks, fs-safe through its hooks", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  await killedHolder(t, "ours", target);
  // One attempt, default options (fail-closed, staleMs 30 s): the kernel proves the holder gone.
  const handle = await acquireFileLock(target, { payload, timeoutMs: 0 });
  await handle.release();
  await killedHolder(t, "ours", target);
  const stale = startPeer(t, { impl: "fs-safe", target, mode: "acquire", options: { timeoutMs: 5000, staleMs: 0 } });
  assert.equal((await stale.next("error")).code, "file_lock_stale", "fs-safe parses our file and judges it");
  const reclaimer = startPeer(t, { impl: "fs-safe", target, mode: "acquire", hooks: "dead-pid", options: { timeoutMs: 5000 } });
  await reclaimer.next("acquired");
  await reclaimer.exited;
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("a live fs-safe reclaimer's guard is respected", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const reclaimer = await reclaimerInGuard(t, "fs-safe", target);
  const busy = await acquireFileLock(target, { payload, ...deadPidHooks, timeoutMs: 500 }).catch((e) => e);
  assert.equal(busy.code, "file_lock_timeout");
  await reclaimer.finish();
  const handle = await acquireFileLock(target, { payload, timeoutMs: 5000 });
  await handle.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("our live reclaimer's guard is respected by fs-safe", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const reclaimer = await reclaimerInGuard(t, "ours", target);
  const busy = startPeer(t, { impl: "fs-safe", target, mode: "acquire", hooks: "dead-pid", options: { timeoutMs: 300 } });
  assert.equal((await busy.next("error")).code, "file_lock_timeout");
  await reclaimer.finish();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("a guard left by a killed fs-safe reclaimer wedges fs-safe, but ours only for a bounded time", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const guard = await abandonedGuard(t, "fs-safe", target);
  const wedged = startPeer(t, { impl: "fs-safe", target, mode: "acquire", hooks: "dead-pid", options: { timeoutMs: 300 } });
  assert.equal((await wedged.next("error")).code, "file_lock_timeout", "fs-safe itself is wedged");
  const young = await acquireFileLock(target, { payload, ...deadPidHooks, timeoutMs: 300 }).catch((e) => e);
  assert.equal(young.code, "file_lock_timeout", "a guard of unknown maker is honoured while young");
  // Its age is judged by its mtime: backdate it past the bound (10 s) instead of waiting.
  const past = new Date(Date.now() - 11_000);
  fs.utimesSync(guard, past, past);
  const handle = await acquireFileLock(target, { payload, ...deadPidHooks, timeoutMs: 5000 });
  assert.ok(!fs.existsSync(guard), "the abandoned guard was taken over and removed");
  await handle.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});

test("our reclaimer killed inside the guard leaves nothing that blocks ours", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  await abandonedGuard(t, "ours", target);
  // One attempt: the guard's maker is proven gone (its flock), so it is taken over at once.
  const handle = await acquireFileLock(target, { payload, ...deadPidHooks, timeoutMs: 0 });
  await handle.release();
  assert.deepEqual(leftovers(path.dirname(target)), []);
});
