// A running 2026.7 gateway sets its process title to `openclaw-gateway`: its command line is that
// one word. Its legacy lock files must read as a live gateway's (kept, busy), never as a
// non-gateway owner's (`non-openclaw-owner`, removed at once).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  acquireSessionWriteLock,
  cleanStaleLockFiles,
  inspectSessionWriteLock,
  SessionWriteLockTimeoutError,
} from "../../npm/index.mjs";
import { sessionsDir, starttimeOf, writeLegacyLock } from "./helpers.mjs";

/** A live process whose command line reads exactly `openclaw-gateway`, as the gateway's does. */
async function startTitledGateway(t) {
  const child = spawn(
    process.execPath,
    ["-e", 'process.title = "openclaw-gateway"; console.log("titled"); setInterval(() => {}, 1e9)'],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  t.after(() => child.kill("SIGKILL"));
  await new Promise((resolve, reject) => {
    child.stdout.once("data", resolve);
    child.once("exit", (code) => reject(new Error(`titled child exited early (${code})`)));
  });
  const argv = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  assert.deepEqual(argv, ["openclaw-gateway"], "the child's command line is the gateway's process title");
  return { pid: child.pid, starttime: starttimeOf(child.pid) };
}

test("a live gateway whose command line is its process title keeps its legacy lock", async (t) => {
  const gateway = await startTitledGateway(t);
  const dir = fs.realpathSync(sessionsDir(t));
  const sessionFile = path.join(dir, "a.jsonl");
  const payload = { ...gateway, createdAt: new Date().toISOString(), maxHoldMs: 300_000 };
  const lockPath = writeLegacyLock(sessionFile, payload);
  const text = fs.readFileSync(lockPath, "utf8");

  const seen = await inspectSessionWriteLock(sessionFile);
  assert.deepEqual([seen.format, seen.stale, seen.staleReasons], ["legacy", false, []]);

  await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }), SessionWriteLockTimeoutError);
  assert.equal(fs.readFileSync(lockPath, "utf8"), text);

  // The sweep reads the command line itself (its default reader), as the gateway's doctor does.
  const swept = await cleanStaleLockFiles({ sessionsDir: dir });
  assert.deepEqual(
    swept.locks.map((l) => [path.basename(l.lockPath), l.stale, l.staleReasons, l.removed]),
    [["a.jsonl.lock", false, [], false]],
  );
  assert.deepEqual(swept.cleaned, []);
  assert.equal(fs.readFileSync(lockPath, "utf8"), text);
});
