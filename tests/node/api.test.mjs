// The package's surface: both module systems, error classes for bad input, pure helpers.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import path from "node:path";
import { test } from "node:test";
import * as esm from "../../npm/index.mjs";
import { packageDir, sessionsDir, sleep } from "./helpers.mjs";

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
  listHeldSessionWriteLocks: "function",
  resolveSessionLockMaxHoldFromTimeout: "function",
  resolveSessionWriteLockAcquireTimeoutMs: "function",
  resolveSessionWriteLockStaleMs: "function",
  resolveSessionWriteLockOptions: "function",
  setSessionWriteLockLogger: "function",
  SessionWriteLockTimeoutError: "function",
  SessionWriteLockStaleError: "function",
  SessionWriteLockError: "function",
  isSessionWriteLockTimeoutError: "function",
  isSessionWriteLockStaleError: "function",
  isSessionWriteLockAcquireError: "function",
  isSessionWriteLockBusyWithActiveRun: "function",
  drainSessionWriteLockStateForTest: "function",
  resetSessionWriteLockStateForTest: "function",
  testing: "object",
  __testing: "object",
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
  // "junction": a directory link Windows makes without privileges (ignored elsewhere).
  fs.symlinkSync(packageDir, path.join(app, "node_modules/session-write-lock"), "junction");
  const names = (script) => JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: app }));
  const imported = names(`import * as m from "session-write-lock"; console.log(JSON.stringify(Object.keys(m)))`);
  const required = names(
    `import { createRequire } from "node:module";` +
      `console.log(JSON.stringify(Object.keys(createRequire(process.cwd() + "/")("session-write-lock"))))`,
  );
  assert.deepEqual(imported.filter((n) => n !== "default").sort(), Object.keys(API).sort());
  assert.deepEqual(required.sort(), Object.keys(API).sort());
});

test("max-hold derivation: min(clamp, max(minMs, timeoutMs + graceMs)), lenient like the gateway", () => {
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 1_000 }), 300_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 600_000 }), 720_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 1_000, minMs: 5_000 }), 121_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 600_000, graceMs: 1, minMs: 1 }), 600_001);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 10, graceMs: 5, minMs: 100 }), 100);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: Infinity }), 2_147_000_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 2_147_000_000 }), 2_147_000_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 3e9 }), 2_147_000_000);
  // Not a positive number: the default (minMs for the timeout, 2 min grace, 5 min minimum).
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: NaN }), 420_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: 1, graceMs: -1 }), 300_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({}), 420_000);
  assert.equal(resolveSessionLockMaxHoldFromTimeout({ timeoutMs: "600000" }), 420_000);
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

test("acquire: a sessionFile that is not a file path is a TypeError; other bad types too", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const cases = [
    [{ sessionFile: "" }, typeError("sessionFile")],
    [{ sessionFile: "a\0b.jsonl" }, typeError("sessionFile")],
    [{ sessionFile: 42 }, typeError("sessionFile")],
    [{ sessionFile: `${path.dirname(sessionFile)}/` }, typeError("sessionFile")],
    [{ sessionFile: `${path.dirname(sessionFile)}/.` }, typeError("sessionFile")],
    [{ sessionFile: `${path.dirname(sessionFile)}/..` }, typeError("sessionFile")],
    [{}, typeError("sessionFile")],
    [undefined, typeError("params")],
    [{ sessionFile, allowReentrant: "yes" }, typeError("allowReentrant")],
    [{ sessionFile, reentrantOwner: 7 }, typeError("reentrantOwner")],
    [{ sessionFile, owner: {} }, typeError("owner")],
  ];
  for (const [params, expected] of cases) {
    // A function, so that a synchronous throw would fail: the API is promise-based.
    await assert.rejects(() => acquireSessionWriteLock(params), expected, inspect(params));
  }
});

test("acquire: number options are lenient like the gateway's (bad values mean the default)", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const bad = [NaN, -1, 0, "100", null, 10n, -Infinity];
  for (const value of bad) {
    const lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: value, staleMs: value, maxHoldMs: value });
    const payload = JSON.parse(fs.readFileSync(lock.lockPath, "utf8"));
    assert.equal(payload.maxHoldMs, 300_000, inspect(value));
    await lock.release();
  }
  const held = await acquireSessionWriteLock({ sessionFile, maxHoldMs: Infinity });
  assert.equal(JSON.parse(fs.readFileSync(held.lockPath, "utf8")).maxHoldMs, 300_000, "Infinity is the default for maxHoldMs");
  // A bad timeout means the default (60 s), not "one try": the waiter is still there 200 ms on.
  const waiter = acquireSessionWriteLock({ sessionFile, timeoutMs: -5 });
  const outcome = await Promise.race([waiter.then(() => "settled", () => "settled"), sleep(200).then(() => "waiting")]);
  assert.equal(outcome, "waiting");
  await held.release();
  await (await waiter).release();
});

test("invalid arguments of the other functions are TypeError or RangeError", async (t) => {
  const sessionsDir_ = sessionsDir(t);
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: "" }), typeError("sessionsDir"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: "x\0" }), typeError("sessionsDir"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, nowMs: NaN }), rangeError("nowMs"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, nowMs: -1 }), rangeError("nowMs"));
  await assert.rejects(() => cleanStaleLockFiles({ sessionsDir: sessionsDir_, readOwnerProcessArgs: 1 }), typeError("readOwnerProcessArgs"));
  await assert.rejects(() => inspectSessionWriteLock(5), typeError("sessionFile"));
  await assert.rejects(() => inspectSessionWriteLock(""), typeError("sessionFile"));
  assert.throws(() => setSessionWriteLockLogger("stderr"), typeError("logger"));
  // staleMs is lenient: NaN means the default.
  assert.deepEqual(await cleanStaleLockFiles({ sessionsDir: sessionsDir_, staleMs: NaN }), {
    locks: [],
    cleaned: [],
    tempFilesRemoved: [],
    errors: [],
  });
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

test("SessionWriteLockError is the timeout error's older name", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "busy.jsonl");
  const held = await acquireSessionWriteLock({ sessionFile });
  const error = await acquireSessionWriteLock({ sessionFile, timeoutMs: 1 }).then(
    () => assert.fail("acquired a held lock"),
    (e) => e,
  );
  assert.equal(esm.SessionWriteLockError, esm.SessionWriteLockTimeoutError);
  assert.ok(error instanceof SessionWriteLockError);
  assert.equal(error.name, "SessionWriteLockTimeoutError");
  assert.equal(error.reason, "session_busy");
  assert.equal(error.code, "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT");
  assert.equal(error.timeoutMs, 1);
  assert.equal(error.lockPath, held.lockPath);
  await held.release();
});

test("under the gateway's test runner the test hooks are also on its global symbol, as its test-support module reads them", () => {
  // The gateway's VB/VC module stores { resetSessionWriteLockStateForTest, testing } on
  // globalThis[Symbol.for("openclaw.sessionWriteLockTestApi")] when VITEST is set (VC: also when
  // NODE_ENV is "test"); its session-write-lock.test-support.ts reads them from there. A fresh
  // process per environment: the symbol is set when the package loads.
  const probe = `
    const lock = require(${JSON.stringify(packageDir)});
    const api = globalThis[Symbol.for("openclaw.sessionWriteLockTestApi")];
    process.stdout.write(JSON.stringify(api === undefined ? null : {
      keys: Object.keys(api).sort(),
      reset: api.resetSessionWriteLockStateForTest === lock.resetSessionWriteLockStateForTest,
      testing: api.testing === lock.testing,
    }));`;
  const run = (env) => {
    const base = { ...process.env };
    delete base.VITEST;
    delete base.NODE_ENV;
    return JSON.parse(execFileSync(process.execPath, ["-e", probe], { env: { ...base, ...env }, encoding: "utf8" }));
  };
  const published = { keys: ["resetSessionWriteLockStateForTest", "testing"], reset: true, testing: true };
  assert.deepEqual(run({ VITEST: "true" }), published, "VITEST=true");
  assert.deepEqual(run({ VITEST: "1" }), published, "any VITEST value");
  assert.deepEqual(run({ NODE_ENV: "test" }), published, "NODE_ENV=test");
  assert.equal(run({}), null, "not outside a test runner");
  assert.equal(run({ NODE_ENV: "production" }), null, "not in production");
});
