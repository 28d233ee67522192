// A mixed fleet: the gateway's own TypeScript module reads lock files this package writes
// (docs/PROTOCOL.md: files with `flock: true` are ours; the gateway reads `pid`, `createdAt`,
// `maxHoldMs` and `starttime` from them). Its reading rules, which our payload must survive:
//   - the file is one JSON object (JSON.parse of the whole text; anything else: no fields);
//   - a value is kept only if it is an integer >= 0, and `pid` and `maxHoldMs` only if > 0;
//     `createdAt` only if it is a string, which Date.parse must read;
//   - `pid` alive (kill(pid, 0)) and `starttime` equal to field 22 of /proc/<pid>/stat: live,
//     not recycled; age = now - createdAt; `hold-exceeded` once age > maxHoldMs.
// The tests below check a real holder's file field by field against these rules and against
// the holder's real pid, start time, acquisition time and max-hold: a payload change the
// gateway would misread (a string pid, another time format or unit, a missing field) fails.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { epochNow, sessionsDir, startHolder, starttimeOf } from "./helpers.mjs";

const isKeptInteger = (v) => Number.isSafeInteger(v) && v >= 0;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

test("every field the gateway reads survives its reading rules with the holder's real values", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const started = epochNow();
  const holder = await startHolder([sessionFile], { maxHoldMs: 90_000 });
  t.after(() => holder.kill());
  const ready = epochNow();
  const payload = JSON.parse(fs.readFileSync(holder.lockPaths[0], "utf8"));
  assert.ok(payload !== null && typeof payload === "object" && !Array.isArray(payload), "one JSON object");

  assert.ok(isKeptInteger(payload.pid) && payload.pid > 0, `pid kept: ${payload.pid}`);
  assert.equal(payload.pid, holder.pid, "the holder's pid as the gateway's kill(pid, 0) sees it");

  assert.equal(typeof payload.createdAt, "string");
  const created = Date.parse(payload.createdAt);
  assert.ok(Number.isFinite(created), `Date.parse reads createdAt: ${payload.createdAt}`);
  assert.equal(new Date(created).toISOString(), payload.createdAt, "written as toISOString() writes it");
  assert.ok(
    created >= Math.floor(started) && created <= ready,
    `createdAt is the acquisition time in ms since 1970: ${started} <= ${created} <= ${ready}`,
  );

  assert.ok(isKeptInteger(payload.maxHoldMs) && payload.maxHoldMs > 0, `maxHoldMs kept: ${payload.maxHoldMs}`);
  assert.equal(payload.maxHoldMs, 90_000, "the holder's max-hold in milliseconds: the gateway's hold-exceeded");

  assert.ok(isKeptInteger(payload.starttime), `starttime kept: ${payload.starttime}`);
  assert.equal(payload.starttime, starttimeOf(holder.pid), "the start time the gateway's recycled-pid check compares");

  assert.ok(alive(payload.pid), "live while held: the gateway keeps it");
  await holder.kill("SIGKILL");
  assert.ok(!alive(payload.pid), "dead once the holder is gone: the gateway's dead-pid, which it removes");
});
