// npm/native.js finds the addon by platform name. On Windows there are two builds and no libc
// to choose by: the msvc one first, the gnu one where it is the only one. Checked here on any
// platform by running a copy of the loader in a child whose process.platform and arch say
// win32 x64, next to .node files that are not addons: the load error names the file it chose.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { sessionsDir } from "./helpers.mjs";

const npmDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../npm");

/** A copy of the loader in a directory of its own, with the given .node files (not addons). */
function loaderCopy(t, nodeFiles) {
  const dir = sessionsDir(t);
  for (const file of ["native.js", "package.json"]) fs.copyFileSync(path.join(npmDir, file), path.join(dir, file));
  for (const platform of nodeFiles) fs.writeFileSync(path.join(dir, `session-write-lock.${platform}.node`), "not an addon");
  return dir;
}

/** Loads the copy as on win32 x64; returns the error message (it cannot succeed). */
function loadAsWindows(dir) {
  const fake = 'Object.defineProperty(process, "platform", { value: "win32" });' +
    'Object.defineProperty(process, "arch", { value: "x64" });';
  const script = `${fake} try { require(${JSON.stringify(path.join(dir, "native.js"))}); console.log("loaded"); }` +
    ` catch (e) { console.log(e.message); }`;
  const env = { ...process.env };
  delete env.SESSION_WRITE_LOCK_NATIVE_PATH;
  // stdout to a file: a Windows node.exe cannot write to a pipe under wine.
  const out = path.join(dir, "out.txt");
  const fd = fs.openSync(out, "w");
  const result = spawnSync(process.execPath, ["-e", script], { env, cwd: dir, stdio: ["ignore", fd, "inherit"] });
  fs.closeSync(fd);
  assert.equal(result.status, 0);
  return fs.readFileSync(out, "utf8");
}

test("on Windows the msvc build is loaded before the gnu build", (t) => {
  const dir = loaderCopy(t, ["win32-x64-gnu", "win32-x64-msvc"]);
  const message = loadAsWindows(dir);
  assert.match(message, /session-write-lock\.win32-x64-msvc\.node/);
  assert.doesNotMatch(message, /win32-x64-gnu/);
});

test("on Windows the gnu build is loaded when it is the only one", (t) => {
  const dir = loaderCopy(t, ["win32-x64-gnu"]);
  assert.match(loadAsWindows(dir), /session-write-lock\.win32-x64-gnu\.node/);
});

test("on Windows without a build, the message names both packages and both files", (t) => {
  const message = loadAsWindows(loaderCopy(t, []));
  for (const part of [
    "no native addon for win32-x64-msvc or win32-x64-gnu",
    "session-write-lock-win32-x64-msvc or session-write-lock-win32-x64-gnu",
    "session-write-lock.win32-x64-msvc.node",
    "session-write-lock.win32-x64-gnu.node",
    "optional dependency",
    "SESSION_WRITE_LOCK_NATIVE_PATH",
  ]) {
    assert.ok(message.includes(part), `${part} not in: ${message}`);
  }
});
