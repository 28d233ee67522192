// README.md's Node quickstart runs as written: tests/readme/block.sh extracts it, and it runs
// as an ES module of a fresh project in which `session-write-lock` is this checkout's package.

import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { packageDir, sessionsDir } from "./helpers.mjs";

test("the Node quickstart of README.md runs as written", async (t) => {
  const block = path.join(packageDir, "../tests/readme/block.sh");
  const code = execFileSync("bash", [block, "js"], { encoding: "utf8" });
  const project = sessionsDir(t);
  fs.mkdirSync(path.join(project, "node_modules"));
  fs.symlinkSync(packageDir, path.join(project, "node_modules/session-write-lock"));
  fs.writeFileSync(path.join(project, "quickstart.mjs"), code);
  // A hang (a lock never granted, a process that never exits) ends as a failure.
  const run = promisify(execFile)(process.execPath, ["quickstart.mjs"], { cwd: project, timeout: 90_000 });
  await assert.doesNotReject(run);
});
