// The start-time resolver test hook (`testing.setProcessStartTimeResolverForTest`): it replaces
// the start times the verdict compares, for our pid and others; null, a throw or a non-integer
// answer are handled; `resetSessionWriteLockStateForTest` restores the real reading, drain not.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  cleanStaleLockFiles,
  drainSessionWriteLockStateForTest,
  resetSessionWriteLockStateForTest,
  testing,
} from "../../npm/index.mjs";
import { packageDir, sessionsDir, starttimeOf, writeLegacyLock } from "./helpers.mjs";

const GATEWAY_ARGV = ["node", "/opt/openclaw/openclaw.mjs", "gateway"];
const { setProcessStartTimeResolverForTest: setResolver } = testing;
const PINNED = 424_242; // a start time that is not ours (ownPidLock checks it)

function ownPidLock(dir, name = "a.jsonl") {
  assert.notEqual(starttimeOf(process.pid), PINNED);
  writeLegacyLock(path.join(dir, name), { pid: process.pid, starttime: PINNED, createdAt: new Date().toISOString() });
}

async function sweep(dir) {
  const { locks } = await cleanStaleLockFiles({ sessionsDir: dir, readOwnerProcessArgs: () => GATEWAY_ARGV });
  return locks.map((l) => [path.basename(l.lockPath), l.staleReasons, l.removed]);
}

test("a self pid with a pinned matching start time is an orphan; after null it is recycled", async (t) => {
  t.after(() => setResolver(null));
  const dir = fs.realpathSync(sessionsDir(t));
  const asked = [];
  setResolver((pid) => (asked.push(pid), pid === process.pid ? PINNED : null));
  ownPidLock(dir);
  assert.deepEqual(await sweep(dir), [["a.jsonl.lock", ["orphan-self-pid"], true]]);
  assert.ok(asked.includes(process.pid));
  setResolver(null);
  ownPidLock(dir);
  assert.deepEqual(await sweep(dir), [["a.jsonl.lock", ["recycled-pid"], true]]);
});

test("a live pid with a pinned mismatching start time is recycled; unpinned it is kept", async (t) => {
  t.after(() => setResolver(null));
  const dir = fs.realpathSync(sessionsDir(t));
  const live = process.ppid;
  const lock = () =>
    writeLegacyLock(path.join(dir, "b.jsonl"), { pid: live, starttime: starttimeOf(live), createdAt: new Date().toISOString() });
  lock();
  assert.deepEqual(await sweep(dir), [["b.jsonl.lock", [], false]]);
  setResolver((pid) => (pid === live ? starttimeOf(live) + 1 : null));
  assert.deepEqual(await sweep(dir), [["b.jsonl.lock", ["recycled-pid"], true]]);
  lock();
  setResolver(null);
  assert.deepEqual(await sweep(dir), [["b.jsonl.lock", [], false]]);
});

// An acquire also applies `non-openclaw-owner` to a live holder, our own pid included, so the
// acquire cases run in a child whose command line the gateway's rules recognise (`… openclaw`).
const ACQUIRE_CHILD = `
import fs from "node:fs";
import path from "node:path";
import { acquireSessionWriteLock, testing } from ${JSON.stringify(path.join(packageDir, "index.mjs"))};
const [dir, pinned, mode] = process.argv.slice(-3);
const sessionFile = path.join(dir, "a.jsonl");
fs.writeFileSync(sessionFile + ".lock", JSON.stringify({ pid: process.pid, starttime: Number(pinned), createdAt: new Date().toISOString() }));
if (mode === "match") testing.setProcessStartTimeResolverForTest((pid) => (pid === process.pid ? Number(pinned) : null));
if (mode === "throws") testing.setProcessStartTimeResolverForTest(() => { throw new Error("unknown"); });
if (mode === "text") testing.setProcessStartTimeResolverForTest(() => "soon");
try {
  const lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 });
  console.log(JSON.parse(fs.readFileSync(lock.lockPath, "utf8")).pid === process.pid ? "acquired" : "wrong payload");
  await lock.release();
} catch (error) {
  console.log(error.code ?? error.name);
}
`;

function acquireInChild(t, mode) {
  const dir = fs.realpathSync(sessionsDir(t));
  const args = ["--input-type=module", "-e", ACQUIRE_CHILD, "openclaw", dir, String(PINNED), mode];
  return execFileSync(process.execPath, args, { encoding: "utf8" }).trim();
}

test("acquire reclaims an own-pid legacy lock with a pinned matching start time at once", (t) => {
  assert.equal(acquireInChild(t, "match"), "acquired");
});

test("acquire with a resolver that throws or answers a non-integer: unknown, so it waits", (t) => {
  assert.equal(acquireInChild(t, "throws"), "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT");
  assert.equal(acquireInChild(t, "text"), "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT");
  // The control: without a resolver our real start time differs, so the lock is recycled.
  assert.equal(acquireInChild(t, "none"), "acquired");
});

test("a throwing or non-integer resolver means unknown in the sweep: nothing is recycled", async (t) => {
  t.after(() => setResolver(null));
  const dir = fs.realpathSync(sessionsDir(t));
  for (const resolver of [() => { throw new Error("no start time here"); }, () => "soon", () => 1.5, () => undefined]) {
    ownPidLock(dir);
    setResolver(resolver);
    assert.deepEqual(await sweep(dir), [["a.jsonl.lock", [], false]]);
    fs.rmSync(path.join(dir, "a.jsonl.lock"));
  }
  assert.throws(() => setResolver(42), TypeError);
});

test("drain keeps the resolver; resetSessionWriteLockStateForTest restores the real one", async (t) => {
  t.after(() => setResolver(null));
  const dir = fs.realpathSync(sessionsDir(t));
  setResolver((pid) => (pid === process.pid ? PINNED : null));
  await drainSessionWriteLockStateForTest();
  ownPidLock(dir);
  assert.deepEqual(await sweep(dir), [["a.jsonl.lock", ["orphan-self-pid"], true]]);
  resetSessionWriteLockStateForTest();
  ownPidLock(dir);
  assert.deepEqual(await sweep(dir), [["a.jsonl.lock", ["recycled-pid"], true]]);
});
