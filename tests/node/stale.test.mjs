// Lock files left by the TypeScript module (legacy payloads, docs/PROTOCOL.md): which ones are
// reclaimed at once, which ones keep the lock busy, and which ones are only reported.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  acquireSessionWriteLock,
  inspectSessionWriteLock,
  SessionWriteLockStaleError,
  SessionWriteLockTimeoutError,
} from "../../npm/index.mjs";
import { deadPid, isoAgo, sessionsDir, startGatewayLikeProcess, starttimeOf, writeLegacyLock } from "./helpers.mjs";

const HOUR = 60 * 60 * 1000;

/**
 * Writes a legacy lock, checks what inspect says, then what one short try does: reclaim it, find
 * it busy, or (report-only) fail at once with the stale error and keep it.
 */
async function legacyCase(t, payload, { ageMs, reasons, removable, reportOnly = false, inspected = reasons }) {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lockPath = writeLegacyLock(sessionFile, payload, { ageMs });
  const text = fs.readFileSync(lockPath, "utf8");
  const seen = await inspectSessionWriteLock(sessionFile);
  assert.equal(seen.format, "legacy");
  assert.deepEqual(seen.staleReasons, inspected);
  assert.equal(seen.stale, inspected.length > 0);
  assert.equal(seen.removable, inspected.length > 0 && removable);
  const attempt = acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  if (!removable) {
    await assert.rejects(attempt, reportOnly ? SessionWriteLockStaleError : SessionWriteLockTimeoutError);
    assert.equal(fs.readFileSync(lockPath, "utf8"), text);
    return;
  }
  const lock = await attempt;
  assert.equal(JSON.parse(fs.readFileSync(lockPath, "utf8")).pid, process.pid);
  await lock.release();
}

const now = () => new Date().toISOString();

test("a dead holder's lock is reclaimed", (t) =>
  legacyCase(t, { pid: deadPid(), createdAt: now() }, { reasons: ["dead-pid"], removable: true }));

test("a fresh malformed lock file is stale but not removed", (t) =>
  legacyCase(t, "{not json", { reasons: ["missing-pid", "invalid-createdAt"], removable: false }));

test("a malformed lock file is removed once its mtime is past the 30 s grace", (t) =>
  legacyCase(t, "{not json", { ageMs: 31_000, reasons: ["missing-pid", "invalid-createdAt"], removable: true }));

test("an acquire with a timeout under 30 s gives a malformed file 5 s", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  writeLegacyLock(sessionFile, "", { ageMs: 6_000 });
  const lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: 29_000 });
  await lock.release();
  writeLegacyLock(sessionFile, "", { ageMs: 6_000 });
  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 30_000, signal: AbortSignal.timeout(300) }), {
    name: "TimeoutError",
  });
});

test("a live gateway holder older than staleMs is reported at once and kept (report-only)", async (t) => {
  const gateway = await startGatewayLikeProcess(t);
  await legacyCase(t, { ...gateway, createdAt: isoAgo(2 * HOUR) }, { reasons: ["too-old"], removable: false, reportOnly: true });
});

test("the report-only stale error names the reasons, the holder and the path (whole message)", async (t) => {
  const gateway = await startGatewayLikeProcess(t);
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const createdAt = isoAgo(2 * HOUR);
  const lockPath = writeLegacyLock(sessionFile, { ...gateway, createdAt, maxHoldMs: 1_000 });
  const started = performance.now();
  const error = await acquireSessionWriteLock({ sessionFile, timeoutMs: 30_000 }).catch((e) => e);
  assert.ok(performance.now() - started < 10_000, "failed at once, not after the timeout");
  assert.ok(error instanceof SessionWriteLockStaleError);
  const ageMs = Number(/ageMs=(\d+)/.exec(error.message)?.[1]);
  assert.ok(Math.abs(ageMs - 2 * HOUR) < 10_000, error.message);
  assert.equal(
    error.message,
    `session file lock stale (too-old, hold-exceeded): pid=${gateway.pid} alive=true ageMs=${ageMs} ${lockPath}`,
  );
  assert.deepEqual(error.staleReasons, ["too-old", "hold-exceeded"]);
  assert.equal(error.code, "OPENCLAW_SESSION_WRITE_LOCK_STALE");
  assert.equal(error.ownerPid, gateway.pid);
  assert.ok(fs.existsSync(lockPath));
});

test("a live gateway holder past its maxHoldMs is reported hold-exceeded; the sweep keeps it fresh", async (t) => {
  const gateway = await startGatewayLikeProcess(t);
  const payload = { ...gateway, createdAt: isoAgo(10_000), maxHoldMs: 5_000 };
  const sessionFile = path.join(sessionsDir(t), "b.jsonl");
  const lockPath = writeLegacyLock(sessionFile, payload);
  assert.deepEqual((await inspectSessionWriteLock(sessionFile)).staleReasons, []);
  const error = await acquireSessionWriteLock({ sessionFile, timeoutMs: 5_000 }).catch((e) => e);
  assert.ok(error instanceof SessionWriteLockStaleError, String(error));
  assert.deepEqual(error.staleReasons, ["hold-exceeded"]);
  assert.ok(fs.existsSync(lockPath));
});

test("a recycled pid (alive, other starttime) is reclaimed", async (t) => {
  const gateway = await startGatewayLikeProcess(t);
  await legacyCase(t, { ...gateway, starttime: gateway.starttime + 1, createdAt: now() }, {
    reasons: ["recycled-pid"],
    removable: true,
  });
});

test("a live gateway holder with its own starttime keeps its lock", async (t) => {
  const gateway = await startGatewayLikeProcess(t);
  await legacyCase(t, { ...gateway, createdAt: now() }, { reasons: [], removable: false });
});

test("a live holder that is not the gateway (by its command line) is removed: non-openclaw-owner", async (t) => {
  const other = spawn("sleep", ["30"]);
  t.after(() => other.kill());
  await new Promise((resolve) => other.once("spawn", resolve));
  const payload = { pid: other.pid, starttime: starttimeOf(other.pid), createdAt: now() };
  await legacyCase(t, payload, { reasons: ["non-openclaw-owner"], removable: true });
});

// The sweep's rules do not call a file without starttime an orphan; they judge our own command
// line instead, which in this test runner is not the gateway's.
test("our own pid without starttime, not held by us: an orphan to acquire; the sweep reads our command line", (t) =>
  legacyCase(t, { pid: process.pid, createdAt: now() }, {
    reasons: ["orphan-self-pid"],
    removable: true,
    inspected: ["non-openclaw-owner"],
  }));

test("our own pid with our starttime, not held by us, is an orphan", (t) =>
  legacyCase(t, { pid: process.pid, starttime: starttimeOf(process.pid), createdAt: now() }, {
    reasons: ["orphan-self-pid"],
    removable: true,
  }));

test("our own pid with another nonce is an earlier iteration and reclaimed", (t) =>
  legacyCase(
    t,
    { pid: process.pid, starttime: starttimeOf(process.pid), nonce: "0".repeat(32), createdAt: now() },
    { reasons: ["orphan-self-pid", "nonce-mismatch"], removable: true },
  ));

test("staleMs decides what is too old", async (t) => {
  const gateway = await startGatewayLikeProcess(t);
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  writeLegacyLock(sessionFile, { ...gateway, createdAt: isoAgo(5_000) });
  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }), SessionWriteLockTimeoutError);
  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1, staleMs: 1_000 }), (error) => {
    assert.ok(error instanceof SessionWriteLockStaleError);
    assert.deepEqual(error.staleReasons, ["too-old"]);
    return true;
  });
});
