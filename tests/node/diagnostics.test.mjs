// Diagnostics: who in this process holds what. A forgotten hold in one async task makes another
// task time out, and the error says which hold blocks it, by label and by the place of its acquire.

import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { acquireSessionWriteLock, listHeldSessionWriteLocks, SessionWriteLockTimeoutError } from "../../npm/index.mjs";
import { sessionsDir } from "./helpers.mjs";

const thisFile = import.meta.url; // stack frames of an ES module name its URL

/** Task A: writes a turn and forgets to release (the gateway's worst lock bug). */
async function forgetfulTurn(sessionFile) {
  const line = new Error().stack.split("\n")[1].match(/:(\d+):\d+\)?$/)[1];
  const lock = await acquireSessionWriteLock({ sessionFile, owner: "turn-A" });
  return { lock, acquireLine: Number(line) + 1 }; // the acquire is on the next line
}

test("a forgotten hold of one task makes another time out, naming the first task's label, file and line", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const { lock, acquireLine } = await forgetfulTurn(sessionFile);
  const error = await (async function turnB() {
    return acquireSessionWriteLock({ sessionFile, owner: "turn-B", timeoutMs: 50 }).catch((e) => e);
  })();
  assert.ok(error instanceof SessionWriteLockTimeoutError);
  const held = error.heldBy;
  assert.equal(held.owner, "turn-A");
  assert.ok(held.ageMs >= 0 && held.ageMs < 10_000);
  assert.ok(held.stack[0].includes(`${thisFile}:${acquireLine}:`), held.stack[0]);
  assert.ok(held.stack[0].includes("forgetfulTurn"), held.stack[0]);
  const ageMs = /ageMs=(\d+)/.exec(error.owner)[1];
  assert.equal(
    error.message,
    `session file locked (timeout 50ms): pid=${process.pid} alive=true ageMs=${ageMs} ${held.lockPath} ` +
      `(held by this process: owner=turn-A, for ${held.ageMs}ms, acquired ${held.stack[0]})`,
  );
  const [listed] = listHeldSessionWriteLocks().filter((h) => h.lockPath === held.lockPath);
  assert.equal(listed.owner, "turn-A");
  assert.deepEqual(listed.stack, held.stack);
  await lock.release();
});

test("listHeldSessionWriteLocks lists every hold with label, times, count, max-hold and stack", async (t) => {
  const dir = sessionsDir(t);
  const before = Date.now();
  const a = await acquireSessionWriteLock({ sessionFile: path.join(dir, "a.jsonl"), owner: "run-a", maxHoldMs: 60_000 });
  const b = await acquireSessionWriteLock({ sessionFile: path.join(dir, "b.jsonl"), reentrantOwner: "run-b" });
  const b2 = await acquireSessionWriteLock({ sessionFile: path.join(dir, "b.jsonl"), reentrantOwner: "run-b" });
  const mine = listHeldSessionWriteLocks().filter((h) => h.lockPath.startsWith(path.dirname(a.lockPath)));
  assert.deepEqual(
    mine.map((h) => [path.basename(h.lockPath), h.owner, h.count, h.maxHoldMs]),
    [
      ["a.jsonl.lock", "run-a", 1, 60_000],
      ["b.jsonl.lock", "run-b", 2, 300_000],
    ],
  );
  const [first] = mine;
  assert.ok(Date.parse(first.acquiredAt) >= before - 5 && Date.parse(first.acquiredAt) <= Date.now());
  assert.equal(Date.parse(first.deadlineAt) - Date.parse(first.acquiredAt), 60_000);
  assert.ok(first.stack[0].includes(thisFile), first.stack[0]);
  for (const lock of [a, b, b2]) await lock.release();
  assert.deepEqual(listHeldSessionWriteLocks().filter((h) => h.lockPath.startsWith(path.dirname(a.lockPath))), []);
});
