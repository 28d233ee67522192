// The file-lock demo (examples/gateway/file-lock-demo.mjs, run by scripts/demo.sh) runs to the
// end: a reclaimer SIGKILLed inside stale recovery leaves the lock and its guard, and the next
// acquire is not wedged and leaves nothing behind.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { packageDir } from "./helpers.mjs";

test("the file-lock demo runs", async (t) => {
  const demo = path.join(packageDir, "../examples/gateway/file-lock-demo.mjs");
  const { stdout } = await promisify(execFile)(process.execPath, [demo], { timeout: 60_000 });
  for (const line of stdout.split("\n").filter(Boolean)) t.diagnostic(line);
  assert.match(stdout, /was SIGKILLed; the next gateway took the lock in [\d.]+ ms/);
  assert.match(stdout, /SIGKILLed inside stale recovery; left behind: gateway\.state\.lock, gateway\.state\.lock\.reclaim\n/);
  assert.match(stdout, /the next gateway took the lock [\d.]+ ms after it started: not wedged/);
  assert.match(stdout, /released; left behind: 0 files/);
});
