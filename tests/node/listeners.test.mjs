// Process cleanup is installed once per process: not per acquire, not per restart cycle, not
// per loaded copy of the package.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { CLEANUP_SIGNALS, packageDir, sessionsDir } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const EVENTS = ["exit", ...CLEANUP_SIGNALS];
const counts = () => EVENTS.map((event) => process.listenerCount(event));

/** A second copy of the package's JavaScript, as two bundled copies of it would be. */
function freshCopy() {
  for (const file of ["index.js", "cleanup.js"]) delete require.cache[path.join(packageDir, file)];
  return require(packageDir);
}

test("cleanup listeners are registered once, on first acquire", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const first = require(packageDir);
  const before = counts();
  const expected = before.map((n) => n + 1);
  for (const lock of [first, freshCopy(), freshCopy()]) {
    for (let cycle = 0; cycle < 5; cycle++) {
      await lock.acquireSessionWriteLock({ sessionFile });
      await lock.releaseAllSessionWriteLocks();
      lock.resetInstanceNonce();
    }
    assert.deepEqual(counts(), expected);
  }
});
