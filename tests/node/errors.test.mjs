// The gateway's error classes and guards: codes, whole messages, fields filled from what the
// acquire saw, and guards that match by class or by code.

import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import {
  acquireSessionWriteLock,
  isSessionWriteLockAcquireError,
  isSessionWriteLockBusyWithActiveRun,
  isSessionWriteLockStaleError,
  isSessionWriteLockTimeoutError,
  SessionWriteLockError,
  SessionWriteLockStaleError,
  SessionWriteLockTimeoutError,
} from "../../npm/index.mjs";
import { sessionsDir, startHolder } from "./helpers.mjs";

test("SessionWriteLockTimeoutError: code, fields and the whole message", () => {
  const error = new SessionWriteLockTimeoutError({ timeoutMs: 60_000, owner: "pid=7 alive=true ageMs=5", lockPath: "/s/a.jsonl.lock" });
  assert.equal(error.message, "session file locked (timeout 60000ms): pid=7 alive=true ageMs=5 /s/a.jsonl.lock");
  assert.equal(error.name, "SessionWriteLockTimeoutError");
  assert.equal(error.code, "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT");
  assert.equal(error.reason, "session_busy");
  assert.deepEqual([error.timeoutMs, error.owner, error.lockPath], [60_000, "pid=7 alive=true ageMs=5", "/s/a.jsonl.lock"]);
  assert.deepEqual([error.ownerPid, error.ownerPidAlive], [undefined, false]);
  const forever = new SessionWriteLockTimeoutError({ timeoutMs: Infinity, owner: "owner=unknown", lockPath: "/x.lock" });
  assert.equal(forever.message, "session file locked (timeout Infinityms): owner=unknown /x.lock");
  assert.ok(error instanceof Error);
  assert.equal(SessionWriteLockError, SessionWriteLockTimeoutError);
  const older = new SessionWriteLockError("session file locked (timeout 10000ms): pid=1 /x.lock", { timeoutMs: 10_000, lockPath: "/x.lock", owner: "pid=1" });
  assert.equal(older.message, "session file locked (timeout 10000ms): pid=1 /x.lock");
  assert.equal(older.reason, "session_busy");
});

test("SessionWriteLockStaleError: code, reasons (empty means unknown) and the whole message", () => {
  const error = new SessionWriteLockStaleError({ owner: "pid=7 alive=true ageMs=9", lockPath: "/s/a.jsonl.lock", staleReasons: ["too-old", "hold-exceeded"] });
  assert.equal(error.message, "session file lock stale (too-old, hold-exceeded): pid=7 alive=true ageMs=9 /s/a.jsonl.lock");
  assert.equal(error.name, "SessionWriteLockStaleError");
  assert.equal(error.code, "OPENCLAW_SESSION_WRITE_LOCK_STALE");
  assert.deepEqual(error.staleReasons, ["too-old", "hold-exceeded"]);
  const unknown = new SessionWriteLockStaleError({ owner: "owner=unknown", lockPath: "/x.lock", staleReasons: [] });
  assert.equal(unknown.message, "session file lock stale (unknown): owner=unknown /x.lock");
  assert.deepEqual(unknown.staleReasons, ["unknown"]);
});

test("the guards match by class or by code on any object, and reject everything else", () => {
  const timeout = new SessionWriteLockTimeoutError({ timeoutMs: 1, owner: "o", lockPath: "/l" });
  const stale = new SessionWriteLockStaleError({ owner: "o", lockPath: "/l", staleReasons: ["too-old"] });
  const byCode = { code: "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT" };
  const staleByCode = { code: "OPENCLAW_SESSION_WRITE_LOCK_STALE" };
  const rows = [
    [timeout, true, false, true],
    [stale, false, true, true],
    [byCode, true, false, true],
    [staleByCode, false, true, true],
    [new Error("session file locked"), false, false, false],
    [{ code: "ENOENT" }, false, false, false],
    ["OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT", false, false, false],
    [null, false, false, false],
    [undefined, false, false, false],
  ];
  for (const [value, isTimeout, isStale, isAcquire] of rows) {
    assert.equal(isSessionWriteLockTimeoutError(value), isTimeout, String(value?.code ?? value));
    assert.equal(isSessionWriteLockStaleError(value), isStale, String(value?.code ?? value));
    assert.equal(isSessionWriteLockAcquireError(value), isAcquire, String(value?.code ?? value));
  }
});

test("isSessionWriteLockBusyWithActiveRun: a timeout whose live holder is this process", () => {
  const make = (fields) => new SessionWriteLockTimeoutError({ timeoutMs: 1, owner: "o", lockPath: "/l", ...fields });
  assert.equal(isSessionWriteLockBusyWithActiveRun(make({ ownerPid: process.pid, ownerPidAlive: true })), true);
  assert.equal(isSessionWriteLockBusyWithActiveRun({ code: "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT", ownerPid: process.pid, ownerPidAlive: true }), true);
  assert.equal(isSessionWriteLockBusyWithActiveRun(make({ ownerPid: process.pid + 1, ownerPidAlive: true })), false, "other pid");
  assert.equal(isSessionWriteLockBusyWithActiveRun(make({ ownerPid: process.pid, ownerPidAlive: false })), false, "dead");
  assert.equal(isSessionWriteLockBusyWithActiveRun(make({})), false, "no pid");
  const stale = new SessionWriteLockStaleError({ owner: "o", lockPath: "/l", staleReasons: ["too-old"] });
  Object.assign(stale, { ownerPid: process.pid, ownerPidAlive: true });
  assert.equal(isSessionWriteLockBusyWithActiveRun(stale), false, "stale error");
  assert.equal(isSessionWriteLockBusyWithActiveRun(new Error("x")), false);
  assert.equal(isSessionWriteLockBusyWithActiveRun(undefined), false);
});

test("a timeout against a hold of this process fills ownerPid/ownerPidAlive, so the busy guard is true", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const held = await acquireSessionWriteLock({ sessionFile });
  const error = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }).catch((e) => e);
  assert.ok(error instanceof SessionWriteLockTimeoutError);
  assert.equal(error.ownerPid, process.pid);
  assert.equal(error.ownerPidAlive, true);
  assert.equal(isSessionWriteLockBusyWithActiveRun(error), true);
  await held.release();
});

test("a timeout against another process's hold: whole message, ownerPid of that process", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const holder = await startHolder([sessionFile]);
  t.after(() => holder.kill());
  const error = await acquireSessionWriteLock({ sessionFile, timeoutMs: 30 }).catch((e) => e);
  assert.ok(error instanceof SessionWriteLockTimeoutError);
  const ageMs = /ageMs=(\d+)/.exec(error.owner)?.[1];
  assert.equal(error.message, `session file locked (timeout 30ms): pid=${holder.pid} alive=true ageMs=${ageMs} ${holder.lockPaths[0]}`);
  assert.deepEqual([error.ownerPid, error.ownerPidAlive], [holder.pid, true]);
  assert.equal(isSessionWriteLockBusyWithActiveRun(error), false);
});
