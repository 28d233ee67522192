// The gateway-style sequence of examples/server-close.ts, run for real: startup sweep with
// `log.warn`, appends under the lock, and the close handler of an in-process restart. The
// example is type-checked with `tsc --strict` by run.sh; here TypeScript only strips its types.

import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { acquireSessionWriteLock, getInstanceNonce } from "../../npm/index.mjs";
import { deadPid, packageDir, sessionsDir, writeLegacyLock } from "./helpers.mjs";

const ts = createRequire(path.join(packageDir, "package.json"))("typescript");

async function loadExample(t) {
  const source = fs.readFileSync(path.join(packageDir, "../examples/server-close.ts"), "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const entry = pathToFileURL(path.join(packageDir, "index.mjs")).href;
  const file = path.join(sessionsDir(t), "server-close.mjs");
  fs.writeFileSync(file, outputText.replace(/from "session-write-lock"/g, `from ${JSON.stringify(entry)}`));
  return import(pathToFileURL(file).href);
}

test("startup sweep, appends under the lock, then the close handler of an in-process restart", async (t) => {
  const example = await loadExample(t);
  const dir = fs.realpathSync(sessionsDir(t));
  const crashed = writeLegacyLock(path.join(dir, "crashed.jsonl"), { pid: deadPid(), createdAt: new Date().toISOString() });
  const warnings = [];
  const cleaned = await example.sweepSessionLocks(dir, { warn: (line) => warnings.push(line) });
  assert.deepEqual(cleaned.map((l) => l.lockPath), [crashed]);
  assert.deepEqual(warnings, [`removed stale session lock: ${crashed} (dead-pid)`]);

  const sessionFile = path.join(dir, "s.jsonl");
  assert.equal(await example.appendToSession(sessionFile, "one", "run-1"), "written");
  const inFlight = await acquireSessionWriteLock({ sessionFile, reentrantOwner: "run-2" });
  assert.equal(await example.appendToSession(sessionFile, "nested", "run-2"), "written", "same run nests");

  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const logs = [];
  const nonce = getInstanceNonce();
  await example.createServerCloseHandler({ server, log: (line) => logs.push(line) })("SIGUSR1");
  assert.equal(fs.existsSync(inFlight.lockPath), false, "the in-flight run's lock was released");
  assert.notEqual(getInstanceNonce(), nonce);
  assert.deepEqual(logs, [`server closed (SIGUSR1): released 1 session lock(s), instance nonce ${getInstanceNonce()}`]);
  assert.equal(fs.readFileSync(sessionFile, "utf8"), "one\nnested\n");
});
