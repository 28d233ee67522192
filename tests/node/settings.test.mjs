// Settings: the environment variables (gateway and generic prefixes), configuration, defaults,
// and the environment applied to acquires.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  acquireSessionWriteLock,
  resolveSessionWriteLockAcquireTimeoutMs,
  resolveSessionWriteLockOptions,
  resolveSessionWriteLockStaleMs,
} from "../../npm/index.mjs";
import { sessionsDir } from "./helpers.mjs";

const GATEWAY = "OPENCLAW_SESSION_WRITE_LOCK_";
const GENERIC = "SESSION_WRITE_LOCK_";

test("defaults: 60 s timeout, 30 min stale, 5 min max-hold", () => {
  assert.deepEqual(resolveSessionWriteLockOptions(undefined, { env: {} }), {
    timeoutMs: 60_000,
    staleMs: 1_800_000,
    maxHoldMs: 300_000,
  });
  assert.equal(resolveSessionWriteLockAcquireTimeoutMs(undefined, {}), 60_000);
  assert.equal(resolveSessionWriteLockStaleMs(undefined, {}), 1_800_000);
});

test("environment values: digits only, > 0, safe integers; Infinity for the timeout only", () => {
  const rows = [
    ["1000", 1000, 1000],
    [" 2500 ", 2500, 2500],
    ["1e3", 60_000, 1_800_000],
    ["0x1000", 60_000, 1_800_000],
    ["9007199254740991", 9007199254740991, 9007199254740991],
    ["9007199254740993", 60_000, 1_800_000],
    ["0", 60_000, 1_800_000],
    ["-5", 60_000, 1_800_000],
    ["1.5", 60_000, 1_800_000],
    ["", 60_000, 1_800_000],
    ["Infinity", Infinity, 1_800_000],
  ];
  for (const [value, timeoutMs, staleMs] of rows) {
    const env = { [`${GATEWAY}ACQUIRE_TIMEOUT_MS`]: value, [`${GATEWAY}STALE_MS`]: value, [`${GATEWAY}MAX_HOLD_MS`]: value };
    const resolved = resolveSessionWriteLockOptions(undefined, { env });
    assert.equal(resolved.timeoutMs, timeoutMs, `timeout ${JSON.stringify(value)}`);
    assert.equal(resolved.staleMs, staleMs, `stale ${JSON.stringify(value)}`);
    assert.equal(resolved.maxHoldMs, staleMs === 1_800_000 ? 300_000 : staleMs, `max-hold ${JSON.stringify(value)}`);
    assert.equal(resolveSessionWriteLockAcquireTimeoutMs(undefined, env), timeoutMs);
    assert.equal(resolveSessionWriteLockStaleMs(undefined, env), staleMs);
  }
});

test("precedence: gateway prefix, generic prefix, configuration, default; maxHoldMsFallback", () => {
  const config = { session: { writeLock: { acquireTimeoutMs: 5_000, staleMs: 30_000, maxHoldMs: 1.5 } } };
  assert.deepEqual(resolveSessionWriteLockOptions(config, { env: {} }), { timeoutMs: 5_000, staleMs: 30_000, maxHoldMs: 300_000 });
  const env = { [`${GENERIC}STALE_MS`]: "70000", [`${GATEWAY}STALE_MS`]: "60000", [`${GENERIC}ACQUIRE_TIMEOUT_MS`]: "7000" };
  assert.deepEqual(resolveSessionWriteLockOptions(config, { env, maxHoldMsFallback: 900_000 }), {
    timeoutMs: 7_000,
    staleMs: 60_000,
    maxHoldMs: 900_000,
  });
  assert.equal(resolveSessionWriteLockStaleMs(config, { [`${GENERIC}STALE_MS`]: "70000" }), 70_000);
});

test("the process environment sets the defaults of acquire", async (t) => {
  const name = `${GATEWAY}MAX_HOLD_MS`;
  process.env[name] = "123456";
  t.after(() => delete process.env[name]);
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const lock = await acquireSessionWriteLock({ sessionFile });
  assert.equal(JSON.parse(fs.readFileSync(lock.lockPath, "utf8")).maxHoldMs, 123_456);
  await lock.release();
  const explicit = await acquireSessionWriteLock({ sessionFile, maxHoldMs: 654_321 });
  assert.equal(JSON.parse(fs.readFileSync(explicit.lockPath, "utf8")).maxHoldMs, 654_321);
  await explicit.release();
});
