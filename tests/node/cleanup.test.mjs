// Process cleanup: a process that exits or is signalled while holding locks leaves no lock
// files behind, and the signal still ends it unless it has listeners of its own.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { sessionsDir, startHolder } from "./helpers.mjs";

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

for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT"]) {
  test(`locks are released on ${signal}, which still ends the process`, async (t) => {
    const holder = await startHolder(threeFiles(t));
    assert.deepEqual(await holder.kill(signal), { code: null, signal });
    assert.deepEqual(holder.lockPaths.filter((p) => fs.existsSync(p)), []);
  });
}

test("a process with its own SIGTERM listener is not ended by ours, but its locks are released", async (t) => {
  const holder = await startHolder(threeFiles(t), { ownSigtermListener: true });
  holder.child.kill("SIGTERM");
  const { event, lockFilesLeft } = await holder.next();
  assert.equal(event, "sigterm");
  assert.deepEqual(lockFilesLeft, [], "released by the signal listener, before exit");
  assert.deepEqual(await holder.exited, { code: 0, signal: null });
});
