// Worker threads own their holds (docs/PROTOCOL.md, "Owners inside a process"): a worker that
// ends — naturally, by process.exit() inside it, or terminated — releases its own locks and
// nothing else, and leaves the nonce alone; the main thread's process.exit() releases a
// worker's locks; the package's process listeners live on the main thread only.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { packageDir, serviceSleeps, sessionsDir, stats, until, waitUntilWaiting } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const lib = require(packageDir);
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const EVENTS = ["exit", "SIGINT", "SIGTERM", "SIGQUIT", "SIGABRT"];
const counts = () => EVENTS.map((event) => process.listenerCount(event));

/** One try at `sessionFile` from another process: "acquired", "busy" or "error …". */
function tryFromAnotherProcess(sessionFile) {
  const child = spawnSync(process.execPath, [path.join(fixtures, "try.mjs"), sessionFile], {
    encoding: "utf8",
  });
  assert.equal(child.status, 0, child.stderr);
  return child.stdout.trim();
}

/** Runs fixtures/worker.mjs on `files` until it has ended the way `end` says. */
async function runWorker(files, end) {
  const worker = new Worker(path.join(fixtures, "worker.mjs"), { workerData: { files, end } });
  const exited = new Promise((resolve, reject) => {
    worker.once("exit", resolve);
    worker.once("error", reject);
  });
  const held = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  if (end === "wait") {
    // The other two may be gone by now; this one certainly still holds its locks.
    for (const lockPath of held.lockPaths) assert.ok(fs.existsSync(lockPath), "the worker holds it");
    await worker.terminate();
  }
  await exited;
  return held;
}

for (const end of ["natural", "exit", "wait"]) {
  const how = { natural: "ends naturally", exit: "calls process.exit()", wait: "is terminated" }[end];
  test(`a worker that ${how} releases its own locks only, and keeps the nonce`, async (t) => {
    const dir = sessionsDir(t);
    const mine = path.join(dir, "main.jsonl");
    const theirs = path.join(dir, "worker.jsonl");
    const lock = await lib.acquireSessionWriteLock({ sessionFile: mine, timeoutMs: 1 });
    const nonce = lib.getInstanceNonce();

    const { lockPaths } = await runWorker([theirs], end);

    assert.equal(fs.existsSync(lockPaths[0]), false, "the worker's lock is released");
    assert.ok(fs.existsSync(lock.lockPath), "the main thread's lock file is still there");
    assert.equal(tryFromAnotherProcess(mine), "busy", "another process still finds it busy");
    assert.equal(tryFromAnotherProcess(theirs), "acquired");
    assert.equal(lib.getInstanceNonce(), nonce, "a worker's end does not rotate the nonce");
    await lock.release();
    assert.equal(fs.existsSync(lock.lockPath), false, "and the main thread still releases it");
  });
}

test("a worker terminated while it waits leaves the lock free for others", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lock = await lib.acquireSessionWriteLock({ sessionFile });
  const before = stats().waits;
  const worker = new Worker(path.join(fixtures, "worker.mjs"), {
    workerData: { files: [sessionFile], end: "wait", options: { timeoutMs: Infinity } },
  });
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  // Handshake: the worker's acquire found the lock busy and the lock service took it in.
  await waitUntilWaiting(before);
  await until("the lock service has taken the worker's wait in", serviceSleeps);
  await worker.terminate();
  await exited;
  await lock.release();
  // Once the service has handled the release, the lock must be free for anyone: not granted
  // to the ended worker (nobody would ever release it).
  await until("the lock service has handled the release", serviceSleeps);
  assert.equal(fs.existsSync(lock.lockPath), false, "no lock file: nobody took it");
  assert.equal(tryFromAnotherProcess(sessionFile), "acquired");
});

test("a worker never joins the main thread's hold, even when both allow reentrancy", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "shared.jsonl");
  const lock = await lib.acquireSessionWriteLock({ sessionFile, allowReentrant: true });
  const worker = new Worker(path.join(fixtures, "worker.mjs"), {
    workerData: { files: [sessionFile], end: "natural", options: { allowReentrant: true } },
  });
  const outcome = await new Promise((resolve) => {
    worker.once("message", () => resolve("joined"));
    worker.once("error", (error) => resolve(error.reason ?? error.message));
  });
  assert.equal(outcome, "session_busy", "the worker's one try finds the lock busy");
  assert.ok(fs.existsSync(lock.lockPath));
  await lock.release();
});

test("process.exit() on the main thread releases the locks a worker holds", (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const child = spawnSync(process.execPath, [path.join(fixtures, "exit-with-worker.mjs"), sessionFile], {
    encoding: "utf8",
  });
  assert.equal(child.status, 0, child.stderr);
  const { lockPaths } = JSON.parse(child.stdout);
  assert.equal(fs.existsSync(lockPaths[0]), false, "no lock file left behind");
});

test("workers add no process listeners, to the main thread's process or their own", async (t) => {
  const dir = sessionsDir(t);
  const lock = await lib.acquireSessionWriteLock({ sessionFile: path.join(dir, "main.jsonl") });
  const before = counts();
  for (let i = 0; i < 3; i++) {
    const { listenersAdded } = await runWorker([path.join(dir, `w${i}.jsonl`)], "natural");
    assert.deepEqual(listenersAdded, [0, 0, 0, 0, 0], "none on the worker's own process");
  }
  assert.deepEqual(counts(), before, "none added to the main thread's process");
  await lock.release();
});
