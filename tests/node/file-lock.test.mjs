// session-write-lock/file-lock in one process: fs-safe's file format, options, defaults,
// validation, errors, managers, reentrancy, the sync twins and the compromise monitor.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { packageDir, sessionsDir } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const fileLock = require("../../npm/file-lock.js");
const {
  acquireFileLock,
  acquireFileLockSync,
  createFileLockManager,
  drainFileLockManagerForTest,
  resetFileLockManagerForTest,
  withFileLock,
  withFileLockSync,
} = fileLock;
const payload = () => ({ pid: process.pid, createdAt: new Date().toISOString() });
const TOKEN = /\n(\t{8}[ \t]{128})\n$/;

test("the ESM entry has the same functions as the CommonJS one", async () => {
  const esm = await import("../../npm/file-lock.mjs");
  for (const [name, value] of Object.entries(fileLock)) assert.equal(esm[name], value, name);
});

test("the lock file is fs-safe's: realpath of the parent, pretty JSON, the token line, mode 0600", async (t) => {
  const dir = sessionsDir(t);
  fs.mkdirSync(path.join(dir, "real"));
  fs.symlinkSync(path.join(dir, "real"), path.join(dir, "link"));
  const body = { pid: process.pid, nested: { a: [1, 2] }, text: "é" };
  const handle = await acquireFileLock(path.join(dir, "link", "state.json"), { payload: () => body });
  assert.equal(handle.normalizedTargetPath, path.join(fs.realpathSync(dir), "real", "state.json"));
  assert.equal(handle.lockPath, `${handle.normalizedTargetPath}.lock`);
  const raw = fs.readFileSync(handle.lockPath, "utf8");
  const token = TOKEN.exec(raw)?.[1];
  assert.ok(token, "ends with fs-safe's token line");
  assert.equal(raw, `${JSON.stringify(body, null, 2)}\n${token}\n`);
  assert.deepEqual(JSON.parse(raw), body, "the token is JSON whitespace");
  assert.equal(fs.statSync(handle.lockPath).mode & 0o777, 0o600);
  await handle.release();
  assert.ok(!fs.existsSync(handle.lockPath));
});

test("payload() is called on every attempt, and the retry budget ends in file_lock_timeout", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const holder = await acquireFileLock(target, { payload, managerKey: "holder" });
  let calls = 0;
  const error = await acquireFileLock(target, {
    payload: () => (calls++, payload()),
    retry: { retries: 2, minTimeout: 1, maxTimeout: 1 },
  }).catch((e) => e);
  assert.equal(calls, 3, "one attempt and two retries");
  assert.equal(error.code, "file_lock_timeout");
  assert.equal(error.message, `file lock timeout for ${holder.normalizedTargetPath}`);
  assert.equal(error.lockPath, holder.lockPath);
  assert.equal(error.normalizedTargetPath, holder.normalizedTargetPath);
  await holder.release();
});

test("a hold of this process is never judged stale, whatever the hooks say", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const holder = await acquireFileLock(target, { payload, managerKey: "holder" });
  let asked = 0;
  const always = () => (asked++, true);
  const error = await acquireFileLock(target, {
    payload,
    staleMs: 0,
    staleRecovery: "remove-if-unchanged",
    shouldReclaim: always,
    shouldRemoveStaleLock: always,
    timeoutMs: 100,
  }).catch((e) => e);
  assert.equal(error.code, "file_lock_timeout");
  assert.equal(asked, 0, "its flock says it is alive: no hook is asked");
  assert.equal(await holder.verifyStillHeld(), true);
  await holder.release();
});

test("options are validated before any I/O, with fs-safe's RangeErrors", async (t) => {
  const target = path.join(sessionsDir(t), "missing", "t");
  const cases = [
    [{ retry: { retries: -1 } }, "lock retry.retries must be a non-negative safe integer"],
    [{ retry: { retries: 1.5 } }, "lock retry.retries must be a non-negative safe integer"],
    [{ retry: { factor: Number.NaN } }, "lock retry.factor must be a finite non-negative number"],
    [{ retry: { minTimeout: 5, maxTimeout: 1 } }, "lock retry.minTimeout must not exceed retry.maxTimeout"],
    [{ timeoutMs: -1 }, "lock timeoutMs must be a finite non-negative number"],
    [{ staleMs: Number.NaN }, "lock staleMs must be a finite non-negative number"],
    [{ compromiseCheckIntervalMs: 0.5 }, "lock compromiseCheckIntervalMs must be 0 or a finite number between 1 and 2147483647"],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(acquireFileLock(target, { payload, ...options }), { name: "RangeError", message });
    assert.throws(() => acquireFileLockSync(target, { payload, ...options }), { name: "RangeError", message });
  }
  assert.ok(!fs.existsSync(path.dirname(target)), "nothing was created");
});

test("fail-closed by default: a stale foreign lock is reported, never removed", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  fs.writeFileSync(`${target}.lock`, JSON.stringify({ pid: 1, createdAt: "2000-01-01T00:00:00.000Z" }, null, 2));
  const error = await acquireFileLock(target, { payload }).catch((e) => e);
  assert.equal(error.code, "file_lock_stale");
  assert.equal(error.message, `file lock stale for ${fs.realpathSync(path.dirname(target))}/t`);
  const noApproval = await acquireFileLock(target, { payload, staleRecovery: "remove-if-unchanged" }).catch((e) => e);
  assert.equal(noApproval.code, "file_lock_stale", "removal needs shouldRemoveStaleLock too");
  const refused = await acquireFileLock(target, {
    payload,
    staleRecovery: "remove-if-unchanged",
    shouldRemoveStaleLock: () => false,
  }).catch((e) => e);
  assert.equal(refused.code, "file_lock_stale");
  assert.ok(fs.existsSync(`${target}.lock`) && !fs.existsSync(`${target}.lock.reclaim`), "kept, no guard left");
  const handle = await acquireFileLock(target, {
    payload,
    staleRecovery: "remove-if-unchanged",
    shouldRemoveStaleLock: ({ raw }) => raw.includes('"pid": 1'),
  });
  await handle.release();
});

test("equal reentrantOwner strings share one lock; other owners wait", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const manager = createFileLockManager("reentrancy");
  const first = await manager.acquire(target, { payload, reentrantOwner: "run-1" });
  const second = await manager.acquire(target, { payload, reentrantOwner: "run-1" });
  const other = await manager.acquire(target, { payload, reentrantOwner: "run-2", timeoutMs: 60 }).catch((e) => e);
  assert.equal(other.code, "file_lock_timeout");
  await first.release();
  await first.release(); // idempotent per handle
  assert.ok(fs.existsSync(first.lockPath), "held while a handle remains");
  await second.release();
  assert.ok(!fs.existsSync(first.lockPath), "gone with the last release");
});

test("heldEntries, forceRelease, drain and reset; acquireFileLock's manager key is fs-safe's", async (t) => {
  const dir = sessionsDir(t);
  const target = path.join(dir, "a");
  const handle = await acquireFileLock(target, { payload, metadata: { purpose: "test" } });
  const [entry, ...more] = createFileLockManager(`fs-safe.file-lock:${target}`).heldEntries();
  assert.equal(more.length, 0);
  assert.equal(entry.lockPath, handle.lockPath);
  assert.deepEqual(entry.metadata, { purpose: "test" });
  assert.equal(typeof entry.acquiredAt, "number");
  assert.equal(await entry.forceRelease(), true);
  assert.ok(!fs.existsSync(handle.lockPath));
  assert.equal(await entry.forceRelease(), false);

  const drained = await acquireFileLock(target, { payload });
  await drainFileLockManagerForTest(target);
  assert.ok(!fs.existsSync(drained.lockPath));
  const reset = await acquireFileLock(target, { payload });
  resetFileLockManagerForTest(target);
  assert.ok(!fs.existsSync(reset.lockPath));
  assert.deepEqual(createFileLockManager(`fs-safe.file-lock:${target}`).heldEntries(), []);
});

test("withFileLock releases when the callback throws, and returns its value", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  await assert.rejects(
    withFileLock(target, { payload }, async () => {
      assert.ok(fs.existsSync(`${fs.realpathSync(path.dirname(target))}/t.lock`));
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.equal(await withFileLock(target, { payload }, async () => 42), 42);
  assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
});

test("the sync twins: exclusion against the async API, waits, and no promises from hooks", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const holder = await acquireFileLock(target, { payload });
  assert.throws(() => acquireFileLockSync(target, { payload, timeoutMs: 30 }), { code: "file_lock_timeout" });
  await holder.release();
  assert.equal(withFileLockSync(target, { payload }, () => "done"), "done");
  fs.writeFileSync(`${target}.lock`, "{}");
  assert.throws(
    () => acquireFileLockSync(target, { payload, staleMs: 0, shouldReclaim: async () => true }),
    { name: "TypeError" },
  );
  const handle = acquireFileLockSync(target, {
    payload,
    staleMs: 0,
    staleRecovery: "remove-if-unchanged",
    shouldRemoveStaleLock: ({ raw }) => raw === "{}",
  });
  assert.equal(handle.verifyStillHeld(), true);
  handle.release();
  assert.deepEqual(fs.readdirSync(path.dirname(target)), []);
});

test("a file rewritten behind the holder's back: verify says so, onCompromised is told once, release leaves it", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  let told = 0;
  let compromised;
  const noticed = new Promise((resolve) => {
    compromised = (info) => {
      told += 1;
      resolve(info);
    };
  });
  const handle = await acquireFileLock(target, { payload, onCompromised: compromised, compromiseCheckIntervalMs: 5 });
  // The monitor's timer is unref'd, as fs-safe's: this one keeps the test's process alive.
  const alive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(alive));
  fs.writeFileSync(handle.lockPath, fs.readFileSync(handle.lockPath, "utf8").trimEnd());
  assert.equal(await handle.verifyStillHeld(), false);
  assert.deepEqual(await noticed, { lockPath: handle.lockPath, normalizedTargetPath: handle.normalizedTargetPath });
  await handle.release();
  assert.ok(fs.existsSync(handle.lockPath), "a file no longer exactly ours is left alone");
  assert.equal(told, 1);
});

test("a waiting acquire leaves the JavaScript thread free", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  const holder = await acquireFileLock(target, { payload, managerKey: "holder" });
  let ticked = false;
  setTimeout(() => (ticked = true), 1);
  const error = await acquireFileLock(target, { payload, timeoutMs: 200 }).catch((e) => e);
  assert.equal(error.code, "file_lock_timeout");
  assert.ok(ticked, "a timer ran while the acquire waited");
  await holder.release();
});

test("an acquire of the same lock from inside the acquisition's own hooks fails at once instead of waiting for itself", async (t) => {
  const target = path.join(sessionsDir(t), "t");
  let inner;
  const handle = await acquireFileLock(target, {
    payload: async () => {
      inner = await acquireFileLock(target, { payload }).catch((e) => e);
      return payload();
    },
  });
  assert.equal(inner.code, "file_lock_timeout");
  const other = await acquireFileLock(target, { payload, managerKey: "other", timeoutMs: 0 }).catch((e) => e);
  assert.equal(other.code, "file_lock_timeout", "another manager contends through the file");
  await handle.release();
});

test("a normal exit releases held locks (only their exact bytes), except those with retainOnExit", async (t) => {
  const dir = sessionsDir(t);
  const script = `
    const { acquireFileLock } = require(${JSON.stringify(path.join(packageDir, "file-lock.js"))});
    (async () => {
      await acquireFileLock(process.argv[1] + "/released", { payload: () => ({}) });
      await acquireFileLock(process.argv[1] + "/retained", { payload: () => ({}), retainOnExit: true });
      process.exit(0);
    })();
  `;
  execFileSync(process.execPath, ["-e", script, dir]);
  assert.deepEqual(fs.readdirSync(dir), ["retained.lock"]);
});
