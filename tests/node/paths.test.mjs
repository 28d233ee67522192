// A sessionFile that names a directory — ends in "/", "." or ".." — is a TypeError before any
// I/O, as are an empty one and one with a NUL byte. Before, "<dir>/." locked "<parent>/<dir>.lock".

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { acquireSessionWriteLock, inspectSessionWriteLock } from "../../npm/index.mjs";
import { sessionsDir } from "./helpers.mjs";

test("paths that name a directory are TypeErrors and create nothing", async (t) => {
  const root = sessionsDir(t);
  const dir = path.join(root, "adir");
  fs.mkdirSync(dir);
  for (const suffix of ["/", "/.", "/..", "//", "/./", "/sub/..", "/./."]) {
    const sessionFile = dir + suffix;
    await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }), (error) => {
      assert.ok(error instanceof TypeError, `${sessionFile}: ${error}`);
      assert.match(error.message, /sessionFile/);
      assert.match(error.message, /directory/);
      return true;
    });
    await assert.rejects(inspectSessionWriteLock(sessionFile), TypeError);
  }
  for (const sessionFile of [".", "..", "", "a\0b.jsonl"]) {
    await assert.rejects(acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }), TypeError, JSON.stringify(sessionFile));
  }
  assert.deepEqual(fs.readdirSync(root), ["adir"], "no lock file anywhere");
  assert.deepEqual(fs.readdirSync(dir), []);
});
