// cleanStaleLockFiles and inspectSessionWriteLock.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { acquireSessionWriteLock, cleanStaleLockFiles, inspectSessionWriteLock } from "../../npm/index.mjs";
import { deadPid, isoAgo, sessionsDir, startGatewayLikeProcess, writeLegacyLock } from "./helpers.mjs";

const HOUR = 60 * 60 * 1000;

test("cleanStaleLockFiles removes dead locks, reports live old ones and keeps live ones", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const gateway = await startGatewayLikeProcess(t);
  writeLegacyLock(path.join(dir, "dead.jsonl"), { pid: deadPid(), createdAt: new Date().toISOString() });
  writeLegacyLock(path.join(dir, "old-live.jsonl"), { ...gateway, createdAt: isoAgo(2 * HOUR) });
  writeLegacyLock(path.join(dir, "fresh-live.jsonl"), { ...gateway, createdAt: new Date().toISOString() });
  fs.writeFileSync(path.join(dir, "notes.txt.lock"), "not a session lock");
  const held = await acquireSessionWriteLock({ sessionFile: path.join(dir, "held.jsonl") });

  const dryRun = await cleanStaleLockFiles({ sessionsDir: dir, removeStale: false });
  assert.deepEqual(
    dryRun.locks.map((l) => [path.basename(l.lockPath), l.stale, l.removable, l.staleReasons, l.format]),
    [
      ["dead.jsonl.lock", true, true, ["dead-pid"], "legacy"],
      ["fresh-live.jsonl.lock", false, false, [], "legacy"],
      ["held.jsonl.lock", false, false, [], "flock"],
      ["old-live.jsonl.lock", true, false, ["too-old"], "legacy"],
    ],
  );
  assert.deepEqual(dryRun.cleaned, []);
  assert.deepEqual(dryRun.tempFilesRemoved, []);
  assert.equal(fs.readdirSync(dir).length, 5);

  // With a clock three hours ahead, the fresh legacy lock is too old as well (reported, kept);
  // the flock holder is never stale by age.
  const later = await cleanStaleLockFiles({ sessionsDir: dir, removeStale: false, nowMs: Date.now() + 3 * HOUR });
  assert.deepEqual(later.locks.map((l) => [l.stale, l.removable]), [[true, true], [true, false], [false, false], [true, false]]);

  const warnings = [];
  const { locks, cleaned } = await cleanStaleLockFiles({ sessionsDir: dir, log: { warn: (line) => warnings.push(line) } });
  assert.equal(locks.length, 4);
  assert.deepEqual(cleaned.map((l) => path.basename(l.lockPath)), ["dead.jsonl.lock"]);
  assert.ok(cleaned.every((l) => l.removed));
  assert.deepEqual(warnings, [`removed stale session lock: ${path.join(dir, "dead.jsonl.lock")} (dead-pid)`]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["fresh-live.jsonl.lock", "held.jsonl.lock", "notes.txt.lock", "old-live.jsonl.lock"]);
  await held.release();
});

test("cleanStaleLockFiles of a missing directory finds nothing", async (t) => {
  const missing = path.join(sessionsDir(t), "missing");
  assert.deepEqual(await cleanStaleLockFiles({ sessionsDir: missing }), { locks: [], cleaned: [], tempFilesRemoved: [], errors: [] });
});

test("inspectSessionWriteLock describes a held lock and a missing one", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  assert.equal(await inspectSessionWriteLock(sessionFile), null);
  const lock = await acquireSessionWriteLock({ sessionFile });
  const seen = await inspectSessionWriteLock(sessionFile);
  const payload = JSON.parse(fs.readFileSync(lock.lockPath, "utf8"));
  assert.deepEqual(seen, {
    lockPath: lock.lockPath,
    pid: process.pid,
    pidAlive: true,
    createdAt: payload.createdAt,
    ageMs: seen.ageMs,
    stale: false,
    staleReasons: [],
    removable: false,
    removed: false,
    nonce: payload.nonce,
    hostname: payload.hostname,
    format: "flock",
    owner: `pid=${process.pid} alive=true ageMs=${seen.ageMs}`,
    ownerLabel: null,
    maxHoldMs: 300_000,
  });
  assert.ok(seen.ageMs >= 0 && seen.ageMs < 5_000);
  await lock.release();
  assert.equal(await inspectSessionWriteLock(sessionFile), null);
});

test("inspection of a payload without pid or date gives nulls", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  writeLegacyLock(sessionFile, { createdAt: "1970-01-01T00:00:00.000Z" });
  const seen = await inspectSessionWriteLock(sessionFile);
  assert.equal(seen.pid, null);
  assert.equal(seen.nonce, null);
  assert.ok(seen.ageMs > 50 * 365 * 24 * HOUR, "ages beyond 2^32 ms are plain numbers");
  assert.deepEqual(seen.staleReasons, ["missing-pid", "too-old"]);
});

test("temp files of crashed writers older than staleMs are removed, younger ones kept", async (t) => {
  const dir = fs.realpathSync(sessionsDir(t));
  const old = path.join(dir, ".a.jsonl.lock.00000000000000aa.tmp");
  const young = path.join(dir, ".b.jsonl.lock.00000000000000bb.tmp");
  for (const file of [old, young]) fs.writeFileSync(file, '{"pid":1');
  const anHourAgo = new Date(Date.now() - 60 * 60 * 1000);
  fs.utimesSync(old, anHourAgo, anHourAgo);
  const dryRun = await cleanStaleLockFiles({ sessionsDir: dir, removeStale: false });
  assert.deepEqual(dryRun.tempFilesRemoved, [], "a dry run removes nothing");
  const { tempFilesRemoved } = await cleanStaleLockFiles({ sessionsDir: dir });
  assert.deepEqual(tempFilesRemoved, [old]);
  assert.deepEqual(fs.readdirSync(dir), [path.basename(young)]);
});
