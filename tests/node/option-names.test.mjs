// Every key the native binding reads from an object is an option the core names
// (`OptionName`): options objects and nested ones are proxies that record each property the
// addon looks up, and each recorded key must be the JavaScript spelling of a named option (or,
// for the `env` object, one of the settings' environment variables). A key read without a name
// in the core fails here.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import test from "node:test";
import { sessionsDir } from "./helpers.mjs";

const native = createRequire(import.meta.url)("../../npm/native.js");
const names = native.__optionNames();

/** `target` behind a proxy that adds every string key looked up (get or has) to `seen`. */
function recording(target, seen) {
  return new Proxy(target, {
    get(object, key, receiver) {
      if (typeof key === "string") seen.add(key);
      return Reflect.get(object, key, receiver);
    },
    has(object, key) {
      if (typeof key === "string") seen.add(key);
      return Reflect.has(object, key);
    },
  });
}

function assertNamed(seen, allowed, what) {
  for (const key of seen) assert.ok(allowed.includes(key), `${what} reads "${key}", which no OptionName spells`);
}

test("the names are distinct and include the settings' environment variables", () => {
  assert.equal(new Set(names.keys).size, names.keys.length);
  assert.ok(names.keys.includes("sessionFile") && names.keys.includes("timeoutMs"), names.keys.join());
  assert.ok(!names.keys.includes("timeout_ms"), "C spellings are not keys");
  assert.deepEqual(
    names.env.filter((n) => n.startsWith("OPENCLAW_")),
    ["OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "OPENCLAW_SESSION_WRITE_LOCK_STALE_MS", "OPENCLAW_SESSION_WRITE_LOCK_MAX_HOLD_MS"],
  );
});

test("every key a native function reads is a named option", async (t) => {
  const dir = sessionsDir(t);
  const calls = [
    ["acquire", (p) => native.acquire(p).release(), { sessionFile: path.join(dir, "a.jsonl") }, ["sessionFile", "timeoutMs", "staleMs", "maxHoldMs", "allowReentrant", "reentrantOwner", "owner"]],
    ["lock", (p) => native.lock(p).release(), { path: path.join(dir, "general"), foreign: "keep" }, ["path", "timeoutMs", "staleMs", "maxHoldMs", "foreign", "owner"]],
    ["lockSync", (p) => native.lockSync(p).release(), { path: path.join(dir, "general-sync") }, ["path", "timeoutMs", "staleMs", "maxHoldMs", "foreign", "owner"]],
    ["inspectLockFile", (p) => native.inspectLockFile(p), { lockPath: path.join(dir, "b.jsonl.lock"), ownerArgs: null }, ["lockPath", "staleMs", "nowMs", "removeStale", "ownerArgs"]],
    ["cleanTempFiles", (p) => native.cleanTempFiles(p), { sessionsDir: dir }, ["sessionsDir", "staleMs"]],
    ["inspectLockPayload", (p) => native.inspectLockPayload(p), { payload: "{}" }, ["payload", "staleMs", "respectMaxHold"]],
    ["resolveSessionLockMaxHoldFromTimeout", (p) => native.resolveSessionLockMaxHoldFromTimeout(p), {}, ["timeoutMs", "graceMs", "minMs"]],
    ["setStartTimePins", (p) => native.setStartTimePins([p]), { pid: 1 }, ["pid", "starttime"]],
  ];
  t.after(() => native.setStartTimePins(null));
  for (const [name, call, params, expected] of calls) {
    const seen = new Set();
    await call(recording(params, seen));
    // The proxy sees the lookups at all: the options every call must read are there.
    for (const key of expected) assert.ok(seen.has(key), `${name} did not read "${key}": ${[...seen]}`);
    assertNamed(seen, names.keys, name);
  }

  const seen = new Set();
  const envSeen = new Set();
  native.resolveSettings(recording({ env: recording({}, envSeen), call: recording({}, seen) }, seen));
  for (const key of ["env", "acquireTimeoutMs", "staleMs", "maxHoldMs", "maxHoldMsFallback", "call", "timeoutMs"]) {
    assert.ok(seen.has(key), `resolveSettings did not read "${key}": ${[...seen]}`);
  }
  assertNamed(seen, names.keys, "resolveSettings");
  assert.deepEqual([...envSeen].sort(), [...names.env].sort(), "resolveSettings reads every setting's variables");
});
