// Lock files left by the TypeScript module (legacy payloads, DESIGN §3B): which ones are
// reclaimed at once and which ones keep the lock busy.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  acquireSessionWriteLock,
  getInstanceNonce,
  inspectSessionWriteLock,
  SessionWriteLockError,
} from "../../npm/index.mjs";
import { deadPid, isoAgo, sessionsDir, starttimeOf, writeLegacyLock } from "./helpers.mjs";

const HOUR = 60 * 60 * 1000;

/** Writes a legacy lock, checks what inspect says, then whether a single try takes it. */
async function legacyCase(t, payload, { ageMs, reasons, reclaimed }) {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lockPath = writeLegacyLock(sessionFile, payload, { ageMs });
  const seen = await inspectSessionWriteLock(sessionFile);
  assert.equal(seen.format, "legacy");
  assert.deepEqual(seen.staleReasons, reasons);
  assert.equal(seen.stale, reclaimed);
  const attempt = acquireSessionWriteLock({ sessionFile, timeoutMs: 0 });
  if (!reclaimed) {
    await assert.rejects(attempt, SessionWriteLockError);
    assert.equal(fs.readFileSync(lockPath, "utf8"), typeof payload === "string" ? payload : JSON.stringify(payload, null, 2));
    return;
  }
  const lock = await attempt;
  assert.equal(JSON.parse(fs.readFileSync(lockPath, "utf8")).pid, process.pid);
  await lock.release();
}

test("a dead holder's lock is reclaimed", (t) =>
  legacyCase(t, { pid: deadPid(), createdAt: new Date().toISOString() }, { reasons: ["dead-pid"], reclaimed: true }));

test("a fresh malformed lock file is not reclaimed", (t) =>
  legacyCase(t, "{not json", { reasons: ["missing-pid", "invalid-createdAt"], reclaimed: false }));

test("an old malformed lock file is reclaimed (by its mtime)", (t) =>
  legacyCase(t, "{not json", { ageMs: 2 * HOUR, reasons: ["missing-pid", "invalid-createdAt"], reclaimed: true }));

test("a lock older than staleMs is reclaimed even if its pid lives", (t) =>
  legacyCase(t, { pid: process.pid, starttime: starttimeOf(process.pid), createdAt: isoAgo(2 * HOUR) }, {
    reasons: ["too-old"],
    reclaimed: true,
  }));

test("a recycled pid (alive, other starttime) is reclaimed", async (t) => {
  const other = spawn("sleep", ["30"]);
  t.after(() => other.kill());
  await new Promise((resolve) => other.once("spawn", resolve));
  const payload = { pid: other.pid, starttime: starttimeOf(other.pid) + 1, createdAt: new Date().toISOString() };
  await legacyCase(t, payload, { reasons: ["recycled-pid"], reclaimed: true });
});

test("a live holder with its own starttime keeps its lock", async (t) => {
  const other = spawn("sleep", ["30"]);
  t.after(() => other.kill());
  await new Promise((resolve) => other.once("spawn", resolve));
  const payload = { pid: other.pid, starttime: starttimeOf(other.pid), createdAt: new Date().toISOString() };
  await legacyCase(t, payload, { reasons: [], reclaimed: false });
});

test("our own pid without starttime, not held by us, is an orphan and reclaimed", (t) =>
  legacyCase(t, { pid: process.pid, createdAt: new Date().toISOString() }, { reasons: ["orphan-self-pid"], reclaimed: true }));

test("our own pid with another nonce is an earlier iteration and reclaimed", (t) =>
  legacyCase(
    t,
    { pid: process.pid, starttime: starttimeOf(process.pid), nonce: "0".repeat(32), createdAt: new Date().toISOString() },
    { reasons: ["nonce-mismatch"], reclaimed: true },
  ));

test("our own pid with our starttime and our nonce is kept", (t) =>
  legacyCase(
    t,
    { pid: process.pid, starttime: starttimeOf(process.pid), nonce: getInstanceNonce(), createdAt: new Date().toISOString() },
    { reasons: [], reclaimed: false },
  ));

test("without a nonce the pid and age rules decide", async (t) => {
  const fresh = { pid: process.pid, starttime: starttimeOf(process.pid), createdAt: new Date().toISOString() };
  await legacyCase(t, fresh, { reasons: [], reclaimed: false });
  await legacyCase(t, { ...fresh, createdAt: isoAgo(2 * HOUR) }, { reasons: ["too-old"], reclaimed: true });
});

test("staleMs decides what is too old", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  writeLegacyLock(sessionFile, { pid: process.pid, starttime: starttimeOf(process.pid), createdAt: isoAgo(5_000) });
  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 0 }), SessionWriteLockError);
  const lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: 0, staleMs: 1_000 });
  await lock.release();
});
