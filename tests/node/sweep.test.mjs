// The startup sweep the gateway's way: `removable`, `log.warn`, the owner command-line reader
// (memoized per pid within one sweep; a throwing reader is asked again), env and nowMs.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { cleanStaleLockFiles } from "../../npm/index.mjs";
import { isoAgo, sessionsDir, starttimeOf, writeLegacyLock } from "./helpers.mjs";

const GATEWAY_ARGV = ["node", "/opt/openclaw/openclaw.mjs", "gateway"];

test("the reader decides live holders: gateway kept, other programs removed and logged", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const live = process.ppid; // alive for the whole test
  writeLegacyLock(path.join(dir, "a.jsonl"), { pid: live, createdAt: new Date().toISOString() });
  writeLegacyLock(path.join(dir, "b.jsonl"), { pid: live, createdAt: isoAgo(60_000) });
  writeLegacyLock(path.join(dir, "c.jsonl"), { pid: process.pid, createdAt: isoAgo(2 * 60 * 60 * 1000) });
  const calls = [];
  const kept = await cleanStaleLockFiles({
    sessionsDir: dir,
    readOwnerProcessArgs: (pid) => (calls.push(pid), GATEWAY_ARGV),
  });
  assert.deepEqual(calls, [live, process.pid], "one read per pid per sweep");
  assert.deepEqual(kept.cleaned, []);
  assert.deepEqual(
    kept.locks.map((l) => [path.basename(l.lockPath), l.stale, l.removable, l.staleReasons]),
    [
      ["a.jsonl.lock", false, false, []],
      ["b.jsonl.lock", false, false, []],
      ["c.jsonl.lock", true, false, ["too-old"]],
    ],
  );

  const warnings = [];
  const swept = await cleanStaleLockFiles({
    sessionsDir: dir,
    readOwnerProcessArgs: () => ["python", "worker.py"],
    log: { warn: (line) => warnings.push(line) },
  });
  assert.deepEqual(
    swept.cleaned.map((l) => [path.basename(l.lockPath), l.staleReasons, l.removed]),
    [
      ["a.jsonl.lock", ["non-openclaw-owner"], true],
      ["b.jsonl.lock", ["non-openclaw-owner"], true],
      ["c.jsonl.lock", ["too-old", "non-openclaw-owner"], true],
    ],
  );
  assert.deepEqual(warnings, [
    `removed stale session lock: ${path.join(dir, "a.jsonl.lock")} (non-openclaw-owner)`,
    `removed stale session lock: ${path.join(dir, "b.jsonl.lock")} (non-openclaw-owner)`,
    `removed stale session lock: ${path.join(dir, "c.jsonl.lock")} (too-old, non-openclaw-owner)`,
  ]);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test("a reader that throws or returns null means owner unknown: kept, and asked again per lock", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  for (const name of ["a", "b"]) writeLegacyLock(path.join(dir, `${name}.jsonl`), { pid: process.ppid, createdAt: new Date().toISOString() });
  let throwing = 0;
  const result = await cleanStaleLockFiles({
    sessionsDir: dir,
    readOwnerProcessArgs: () => {
      throwing++;
      throw new Error("powershell timed out");
    },
  });
  assert.equal(throwing, 2, "a throwing reader is not cached");
  assert.deepEqual(result.cleaned, []);
  let nulls = 0;
  await cleanStaleLockFiles({ sessionsDir: dir, readOwnerProcessArgs: () => (nulls++, null) });
  assert.equal(nulls, 1, "a null answer is cached like any other");
  assert.equal(fs.readdirSync(dir).length, 2);
});

test("an own-pid lock with our starttime is an orphan; one without starttime is judged by the reader", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  writeLegacyLock(path.join(dir, "a.jsonl"), { pid: process.pid, starttime: starttimeOf(process.pid), createdAt: new Date().toISOString() });
  writeLegacyLock(path.join(dir, "b.jsonl"), { pid: process.pid, createdAt: new Date().toISOString() });
  const { locks } = await cleanStaleLockFiles({ sessionsDir: dir, readOwnerProcessArgs: () => GATEWAY_ARGV });
  assert.deepEqual(
    locks.map((l) => [path.basename(l.lockPath), l.staleReasons, l.removed]),
    [
      ["a.jsonl.lock", ["orphan-self-pid"], true],
      ["b.jsonl.lock", [], false],
    ],
  );
});

test("payload-less files: fresh and 10 s old are kept, 31 s old removed; env sets staleMs", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  writeLegacyLock(path.join(dir, "fresh.jsonl"), "{}");
  writeLegacyLock(path.join(dir, "ten.jsonl"), "", { ageMs: 10_000 });
  writeLegacyLock(path.join(dir, "old.jsonl"), "", { ageMs: 31_000 });
  const { locks } = await cleanStaleLockFiles({ sessionsDir: dir });
  assert.deepEqual(
    locks.map((l) => [path.basename(l.lockPath), l.stale, l.removable, l.removed, l.staleReasons]),
    [
      ["fresh.jsonl.lock", true, false, false, ["missing-pid", "invalid-createdAt"]],
      ["old.jsonl.lock", true, true, true, ["missing-pid", "invalid-createdAt"]],
      ["ten.jsonl.lock", true, false, false, ["missing-pid", "invalid-createdAt"]],
    ],
  );
  // A 45 s old lock of a live gateway: stale with a 30 s config, not with the env's 60 s.
  writeLegacyLock(path.join(dir, "live.jsonl"), { pid: process.ppid, createdAt: isoAgo(45_000) });
  const config = { session: { writeLock: { staleMs: 30_000 } } };
  const reader = () => GATEWAY_ARGV;
  const byConfig = await cleanStaleLockFiles({ sessionsDir: dir, config, env: {}, removeStale: false, readOwnerProcessArgs: reader });
  assert.deepEqual(byConfig.locks.find((l) => l.lockPath.endsWith("live.jsonl.lock")).staleReasons, ["too-old"]);
  const env = { OPENCLAW_SESSION_WRITE_LOCK_STALE_MS: "60000" };
  const byEnv = await cleanStaleLockFiles({ sessionsDir: dir, config, env, removeStale: false, readOwnerProcessArgs: reader });
  assert.deepEqual(byEnv.locks.find((l) => l.lockPath.endsWith("live.jsonl.lock")).staleReasons, []);
});

test("the sweep yields to the event loop at every lock file", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  // Twenty removable files: one log.warn each, as each is removed. The event loop must have
  // turned between any two: a sweep that did its files in one go (synchronously, or after a
  // single await) would log them all within one turn.
  for (let i = 0; i < 20; i++) writeLegacyLock(path.join(dir, `s${i}.jsonl`), { pid: process.ppid, createdAt: new Date().toISOString() });
  let turns = 0;
  let running = true;
  const spin = () => {
    if (!running) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const turnAtEachRemoval = [];
  const { cleaned } = await cleanStaleLockFiles({
    sessionsDir: dir,
    readOwnerProcessArgs: () => ["python", "worker.py"],
    log: { warn: () => turnAtEachRemoval.push(turns) },
  });
  running = false;
  assert.equal(cleaned.length, 20);
  assert.equal(turnAtEachRemoval.length, 20);
  for (let i = 1; i < turnAtEachRemoval.length; i++) {
    assert.ok(
      turnAtEachRemoval[i] > turnAtEachRemoval[i - 1],
      `the event loop turned between removals ${i - 1} and ${i}: ${turnAtEachRemoval.join(" ")}`,
    );
  }
});
