// The package's surface: both module systems, error classes for bad input, pure helpers.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import path from "node:path";
import { test } from "node:test";
import * as esm from "../../npm/index.mjs";
import { packageDir, sessionsDir } from "./helpers.mjs";

const cjs = createRequire(import.meta.url)(packageDir);
const {
  acquireSessionWriteLock,
  cleanStaleLockFiles,
  getInstanceNonce,
  inspectSessionWriteLock,
  resetInstanceNonce,
  resolveSessionLockMaxHoldFromTimeout,
  setSessionWriteLockLogger,
  SessionWriteLockError,
} = esm;

const API = {
  acquireSessionWriteLock: "function",
  releaseAllSessionWriteLocks: "function",
  releaseAllSessionWriteLocksSync: "function",
  resetInstanceNonce: "function",
  getInstanceNonce: "function",
  cleanStaleLockFiles: "function",
  inspectSessionWriteLock: "function",
  resolveSessionLockMaxHoldFromTimeout: "function",
  setSessionWriteLockLogger: "function",
  SessionWriteLockError: "function",
};

test("require and import expose the same API", () => {
  for (const [name, type] of Object.entries(API)) {
    assert.equal(typeof cjs[name], type, `require: ${name}`);
    assert.equal(typeof esm[name], type, `import: ${name}`);
    assert.equal(esm[name], cjs[name], `${name} is one object`);
  }
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(API).sort());
  assert.equal(esm.default, cjs);
});

test("the package resolves by name for require and import (exports map)", (t) => {
  const app = sessionsDir(t);
  fs.mkdirSync(path.join(app, "node_modules"));
  fs.symlinkSync(packageDir, path.join(app, "node_modules/session-write-lock"));
  const names = (script) => JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: app }));
  const imported = names(`import * as m from "session-write-lock"; console.log(JSON.stringify(Object.keys(m)))`);
  const required = names(
    `import { createRequire } from "node:module";` +
      `console.log(JSON.stringify(Object.keys(createRequire(process.cwd() + "/")("session-write-lock"))))`,
  );
  assert.deepEqual(imported.filter((n) => n !== "default").sort(), Object.keys(API).sort());
  assert.deepEqual(required.sort(), Object.keys(API).sort());
});

test("max-hold derivation: max(minMs, timeoutMs + graceMs), clamped", () => {
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 1_000 }), 300_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 600_000 }), 720_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 600_000, graceMs: 0, minMs: 1 }), 600_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 10, graceMs: 5, minMs: 100 }), 100);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: Infinity }), 2_147_000_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 3e9 }), 2_147_000_000);
  assert.throws(() => resolveSessionLockMaxHoldFromTimeout({ timeoutMs: NaN }), rangeError("timeoutMs"));
  assert.throws(() => resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 1, graceMs: -1 }), rangeError("graceMs"));
  assert.throws(() => resolveSessionLockMaxHoldFromTimeout({}), typeError("timeoutMs"));
  assert.throws(() => resolveSessionLockMaxHoldFromTimeout({ timeoutMs: "1" }), typeError("timeoutMs"));
});

test("the instance nonce is 128 random bits in hex and rotates on reset", () => {
  const first = getInstanceNonce();
  assert.match(first, /^[0-9a-f]{32}$/);
  assert.equal(getInstanceNonce(), first);
  const next = resetInstanceNonce();
  assert.match(next, /^[0-9a-f]{32}$/);
  assert.notEqual(next, first);
  assert.equal(getInstanceNonce(), next);
});

function typeError(name) {
  return (error) => error instanceof TypeError && error.message.includes(name);
}

function rangeError(name) {
  return (error) => error instanceof RangeError && error.message.includes(name);
}

test("invalid acquire options reject with TypeError or RangeError naming the option", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const cases = [
    [{ sessionFile, timeoutMs: NaN }, rangeError("timeoutMs")],
    [{ sessionFile, timeoutMs: -1 }, rangeError("timeoutMs")],
    [{ sessionFile, timeoutMs: "100" }, typeError("timeoutMs")],
    [{ sessionFile, timeoutMs: null }, typeError("timeoutMs")],
    [{ sessionFile, staleMs: 0 }, rangeError("staleMs")],
    [{ sessionFile, staleMs: Infinity }, rangeError("staleMs")],
    [{ sessionFile, staleMs: -5 }, rangeError("staleMs")],
    [{ sessionFile, maxHoldMs: NaN }, rangeError("maxHoldMs")],
    [{ sessionFile, maxHoldMs: 10n }, typeError("maxHoldMs")],
    [{ sessionFile, allowReentrant: "yes" }, typeError("allowReentrant")],
    [{ sessionFile: "" }, typeError("sessionFile")],
    [{ sessionFile: "a\0b.jsonl" }, typeError("sessionFile")],
    [{ sessionFile: 42 }, typeError("sessionFile")],
    [{}, typeError("sessionFile")],
    [undefined, typeError("params")],
  ];
  for (const [params, expected] of cases) {
    // A function, so that a synchronous throw would fail: the API is promise-based.
    await assert.rejects(() => acquireSessionWriteLock(params), expected, inspect(params));
  }
});

test("invalid arguments of the other functions are TypeError or RangeError too", async (t) => {
  const sessionsDir_ = sessionsDir(t);
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: "" }), typeError("sessionsDir"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: "x\0" }), typeError("sessionsDir"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, staleMs: NaN }), rangeError("staleMs"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, nowMs: NaN }), rangeError("nowMs"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, nowMs: -1 }), rangeError("nowMs"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, removeStale: 1 }), typeError("removeStale"));
  await assert.rejects(() => inspectSessionWriteLock(5), typeError("sessionFile"));
  await assert.rejects(() => inspectSessionWriteLock(""), typeError("sessionFile"));
  assert.throws(() => setSessionWriteLockLogger("stderr"), typeError("logger"));
});

test("I/O failures are Errors with code and path", async (t) => {
  const dir = sessionsDir(t);
  const notADir = path.join(dir, "plain-file");
  fs.writeFileSync(notADir, "");
  const error = await acquireSessionWriteLock({ sessionFile: path.join(notADir, "a.jsonl") }).then(
    () => assert.fail("acquired under a regular file"),
    (e) => e,
  );
  assert.equal(error.constructor, Error);
  assert.equal(error.code, "ENOTDIR");
  assert.ok(error.path.startsWith(notADir), error.path);
  assert.match(error.message, /ENOTDIR/);
});

test("SessionWriteLockError carries reason, timeoutMs, lockPath and owner", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "busy.jsonl");
  const held = await acquireSessionWriteLock({ sessionFile });
  const error = await acquireSessionWriteLock({ sessionFile, timeoutMs: 0, allowReentrant: false }).then(
    () => assert.fail("acquired a held lock"),
    (e) => e,
  );
  assert.ok(error instanceof SessionWriteLockError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "SessionWriteLockError");
  assert.equal(error.reason, "session_busy");
  assert.equal(error.timeoutMs, 0);
  assert.equal(error.lockPath, held.lockPath);
  assert.equal(error.owner, `pid=${process.pid} (this process)`);
  assert.equal(error.message, `session file locked (timeout 0ms): ${error.owner} ${held.lockPath}`);
  await held.release();
});
