// A mixed fleet: the gateway's own TypeScript module reads lock files this package writes.
// `gatewayInspect` below re-implements that module's inspection (its payload reading, reasons,
// report rule and remove rule, as docs/PROTOCOL.md describes them) so that our files can be
// judged by the gateway's rules: it must apply its own `hold-exceeded` to our maxHoldMs.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { sessionsDir, startHolder, starttimeOf } from "./helpers.mjs";

const nonNegativeInt = (v) => (Number.isInteger(v) && v >= 0 ? v : undefined);
const positiveInt = (v) => (Number.isInteger(v) && v > 0 ? v : undefined);

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

function currentStarttime(pid) {
  try {
    return starttimeOf(pid);
  } catch {
    return undefined;
  }
}

/** The gateway's inspection of one lock payload (pid, age, hold, report and remove rules). */
function gatewayInspect(text, { staleMs, nowMs, respectMaxHold }) {
  let raw = null;
  try {
    raw = JSON.parse(text);
  } catch {}
  const payload = raw && typeof raw === "object" ? raw : {};
  const pid = positiveInt(payload.pid);
  const createdAt = typeof payload.createdAt === "string" ? payload.createdAt : undefined;
  const maxHoldMs = positiveInt(payload.maxHoldMs);
  const starttime = nonNegativeInt(payload.starttime);
  const reasons = [];
  const pidAlive = pid !== undefined && isAlive(pid);
  if (pid === undefined) reasons.push("missing-pid");
  else if (!pidAlive) reasons.push("dead-pid");
  else if (starttime !== undefined && currentStarttime(pid) !== undefined && currentStarttime(pid) !== starttime) reasons.push("recycled-pid");
  const created = createdAt === undefined ? NaN : Date.parse(createdAt);
  const ageMs = Number.isFinite(created) ? Math.max(0, nowMs - created) : undefined;
  if (ageMs === undefined) reasons.push("invalid-createdAt");
  else if (ageMs > staleMs) reasons.push("too-old");
  if (respectMaxHold && maxHoldMs !== undefined && ageMs !== undefined && ageMs > maxHoldMs) reasons.push("hold-exceeded");
  const stale = reasons.length > 0;
  const onlyOld = reasons.every((r) => r === "too-old" || r === "hold-exceeded");
  return { pid, pidAlive, ageMs, staleReasons: reasons, stale, report: stale, remove: stale && !onlyOld };
}

const STALE_MS = 30 * 60 * 1000;

test("the gateway's module applies its hold-exceeded rule to our lock files, and never removes a live one", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const holder = await startHolder([sessionFile], { maxHoldMs: 90_000 });
  t.after(() => holder.kill());
  const text = fs.readFileSync(holder.lockPaths[0], "utf8");
  const payload = JSON.parse(text);
  assert.equal(payload.maxHoldMs, 90_000);
  assert.equal(payload.owner, "holder-fixture");
  const created = Date.parse(payload.createdAt);

  const fresh = gatewayInspect(text, { staleMs: STALE_MS, nowMs: created + 1_000, respectMaxHold: true });
  assert.deepEqual([fresh.pid, fresh.pidAlive, fresh.staleReasons, fresh.stale], [holder.pid, true, [], false]);

  const overdue = gatewayInspect(text, { staleMs: STALE_MS, nowMs: created + 91_000, respectMaxHold: true });
  assert.deepEqual(overdue.staleReasons, ["hold-exceeded"]);
  assert.deepEqual([overdue.report, overdue.remove], [true, false], "reported to its contender, never removed");

  const sweep = gatewayInspect(text, { staleMs: STALE_MS, nowMs: created + 91_000, respectMaxHold: false });
  assert.deepEqual(sweep.staleReasons, [], "its sweep never computes hold-exceeded");

  await holder.kill("SIGKILL");
  const dead = gatewayInspect(text, { staleMs: STALE_MS, nowMs: created + 1_000, respectMaxHold: true });
  assert.deepEqual([dead.staleReasons, dead.remove], [["dead-pid"], true]);
});

test("the starttime we write is the one the gateway's recycled-pid check compares", async (t) => {
  const sessionFile = path.join(sessionsDir(t), "a.jsonl");
  const holder = await startHolder([sessionFile]);
  t.after(() => holder.kill());
  const text = fs.readFileSync(holder.lockPaths[0], "utf8");
  assert.equal(JSON.parse(text).starttime, starttimeOf(holder.pid));
  const seen = gatewayInspect(text, { staleMs: STALE_MS, nowMs: Date.now(), respectMaxHold: true });
  assert.deepEqual(seen.staleReasons, []);
});
