// A lock whose handle the garbage collector took is not released by that (as in the gateway's
// TypeScript module): it stays held until release-all. Run in a child with --expose-gc.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { packageDir, sessionsDir } from "./helpers.mjs";

const child = `
const fs = require("node:fs");
const lock = require(${JSON.stringify(packageDir)});
(async () => {
  const sessionFile = process.argv[1];
  let handle = await lock.acquireSessionWriteLock({ sessionFile });
  const lockPath = handle.lockPath;
  handle = null;
  for (let i = 0; i < 5; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
  }
  const afterGc = {
    exists: fs.existsSync(lockPath),
    held: lock.listHeldSessionWriteLocks().some((h) => h.lockPath === lockPath),
  };
  const released = await lock.releaseAllSessionWriteLocks();
  console.log(JSON.stringify({ afterGc, released, existsAfter: fs.existsSync(lockPath) }));
})();
`;

test("a collected handle leaves its lock held until release-all", (t) => {
  const sessionFile = path.join(sessionsDir(t), "gc.jsonl");
  const out = execFileSync(process.execPath, ["--expose-gc", "-e", child, sessionFile], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.deepEqual(JSON.parse(out), {
    afterGc: { exists: true, held: true },
    released: 1,
    existsAfter: false,
  });
});
