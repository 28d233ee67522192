// Process cleanup: a process that exits or is signalled while holding locks leaves no lock
// files behind, and the signal still ends it unless it has listeners of its own. On Windows,
// the signals Node delivers there. Windows cannot send a process a signal
// (child.kill terminates it): there the holder raises it itself, as Node does when Ctrl-C,
// Ctrl-Break or a closed console delivers it, and "ends" means exit code 1 (TerminateProcess).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { CLEANUP_SIGNALS, sessionsDir, startHolder } from "./helpers.mjs";

const WINDOWS = process.platform === "win32";
/** Delivers `signal` to the holder (see above). */
const raise = (holder, signal) => (WINDOWS ? holder.send(`raise ${signal}`) : holder.child.kill(signal));
const endedBy = (signal) => (WINDOWS ? { code: 1, signal: null } : { code: null, signal });

const threeFiles = (t) => {
  const dir = sessionsDir(t);
  return ["a", "b", "c"].map((name) => path.join(dir, `${name}.jsonl`));
};

test("locks are released when the holder exits", async (t) => {
  const holder = await startHolder(threeFiles(t));
  assert.ok(holder.lockPaths.every((p) => fs.existsSync(p)));
  holder.send("exit");
  assert.deepEqual(await holder.exited, { code: 0, signal: null });
  assert.deepEqual(holder.lockPaths.filter((p) => fs.existsSync(p)), []);
});

for (const signal of CLEANUP_SIGNALS) {
  test(`locks are released on ${signal}, which still ends the process`, async (t) => {
    const holder = await startHolder(threeFiles(t));
    raise(holder, signal);
    assert.deepEqual(await holder.exited, endedBy(signal));
    assert.deepEqual(holder.lockPaths.filter((p) => fs.existsSync(p)), []);
  });
}

const own = WINDOWS ? "SIGINT" : "SIGTERM";
test(`a process with its own ${own} listener is not ended by ours, but its locks are released`, async (t) => {
  const holder = await startHolder(threeFiles(t), { ownListener: own });
  raise(holder, own);
  const { event, lockFilesLeft } = await holder.next();
  assert.equal(event, own);
  assert.deepEqual(lockFilesLeft, [], "released by the signal listener, before exit");
  assert.deepEqual(await holder.exited, { code: 0, signal: null });
});
