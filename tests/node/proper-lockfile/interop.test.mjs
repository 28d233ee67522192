// session-write-lock/proper-lockfile against the real proper-lockfile 4, each in its own
// processes (peer.mjs): exclusion both ways, staleness both ways, killed holders of either kind,
// and an event loop blocked past `stale` (docs/PROTOCOL.md, "proper-lockfile's lock").

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { sessionsDir } from "../helpers.mjs";
import { impls } from "./impls.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const STALE = 2000; // proper-lockfile's smallest
const short = { stale: STALE, update: 1000 };

/** A holder process (peer.mjs) of `impl`; `next(event)` reads its next event, which must be `event`. */
async function startHolder(t, impl, file, options = short) {
  const child = spawn(process.execPath, [path.join(here, "peer.mjs"), JSON.stringify({ impl, file, options })], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  t.after(() => child.kill("SIGKILL"));
  const events = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const holder = {
    send: (line) => child.stdin.write(`${line}\n`),
    async next(expected) {
      const { value, done } = await events.next();
      assert.ok(!done, `the ${impl} holder exited while the test expected ${expected}`);
      const event = JSON.parse(value);
      if (expected) assert.equal(event.event, expected, `the ${impl} holder said ${value}`);
      return event;
    },
    /** Its events up to and including `last`. */
    async until(last) {
      const seen = [];
      do seen.push(await holder.next());
      while (seen.at(-1).event !== last);
      return seen;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
  await holder.next("held");
  return holder;
}

function target(t) {
  const file = path.join(sessionsDir(t), "data.json");
  fs.writeFileSync(file, "{}");
  return file;
}

const who = { ours: "our", real: "a real proper-lockfile" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const code = (promise) => promise.then(() => "acquired", (e) => e.code);

for (const [holderImpl, waiterImpl] of [
  ["ours", "real"],
  ["real", "ours"],
]) {
  test(`${who[holderImpl]} holder excludes ${who[waiterImpl]} waiter, which takes the lock once it is released`, async (t) => {
    const file = target(t);
    const waiter = impls[waiterImpl];
    const holder = await startHolder(t, holderImpl, file);
    assert.equal(await code(waiter.lock(file, short)), "ELOCKED");
    assert.equal(await waiter.check(file, short), true);
    const waiting = waiter.lock(file, { ...short, retries: { retries: 100, minTimeout: 50, maxTimeout: 50 } });
    await sleep(200);
    holder.send("release");
    await holder.next("released");
    const release = await waiting;
    assert.ok(fs.statSync(`${file}.lock`).isDirectory());
    await release();
    assert.equal(fs.existsSync(`${file}.lock`), false);
  });
}

test("a SIGKILLed holder of ours is taken at once by our waiter, before its scheduled retry", async (t) => {
  const file = target(t);
  const holder = await startHolder(t, "ours", file, { stale: 3_600_000 });
  // One retry, scheduled 50 s out; stale an hour: only the kernel's word can let it in sooner.
  const scheduledMs = 50_000;
  const started = performance.now();
  const waiting = impls.ours.lock(file, { stale: 3_600_000, retries: { retries: 1, minTimeout: scheduledMs } });
  await sleep(100);
  assert.equal(await impls.ours.check(file), true, "held while its holder lives");
  await holder.kill();
  const release = await waiting;
  assert.ok(performance.now() - started < scheduledMs, "woken by the holder's death, not by the schedule");
  await release();
});

// Mixed fleets: a proper-lockfile waiter has only the mtime to go by, and a proper-lockfile
// holder has no kernel lock, so these take `stale` whoever waits.
for (const [holderImpl, waiterImpl] of [
  ["ours", "real"],
  ["real", "ours"],
]) {
  test(`${who[holderImpl]} holder SIGKILLed: its lock is taken by ${who[waiterImpl]} waiter only once stale`, async (t) => {
    const file = target(t);
    const waiter = impls[waiterImpl];
    const holder = await startHolder(t, holderImpl, file);
    await holder.kill();
    // Nothing refreshes the directory any more; until it is `stale` old, it is held.
    const mtime = fs.statSync(`${file}.lock`).mtimeMs;
    if (Date.now() - mtime < STALE - 200) {
      assert.equal(await code(waiter.lock(file, short)), "ELOCKED");
      assert.equal(await waiter.check(file, short), true);
    }
    const release = await waiter.lock(file, { ...short, retries: { retries: 100, minTimeout: 100, maxTimeout: 100 } });
    // In whole milliseconds, as proper-lockfile compares (our waiter looks every 5 ms, so it
    // gets in within a millisecond of the bound).
    assert.ok(Date.now() - Math.floor(mtime) >= STALE, "taken only once stale");
    const marked = (fs.statSync(`${file}.lock`).mode & 0o1000) !== 0;
    assert.equal(marked, waiterImpl === "ours", "the new holder's directory");
    await release();
  });
}

/**
 * The holder's event loop is blocked for twice `stale` while a real proper-lockfile waiter in
 * this process tries every 100 ms. Returns whether the waiter got in, and the holder's events
 * from the block to its release.
 */
async function blockedHolder(t, impl) {
  const file = target(t);
  const holder = await startHolder(t, impl, file);
  holder.send(`block ${2 * STALE}`);
  const release = await impls.real
    .lock(file, { ...short, retries: { retries: Math.ceil((2.5 * STALE) / 100), minTimeout: 100, maxTimeout: 100 } })
    .catch((e) => {
      assert.equal(e.code, "ELOCKED");
      return null;
    });
  await release?.();
  const events = await holder.until("block-done");
  holder.send("release");
  events.push(await holder.next());
  return { waiterGotIn: release !== null, events: events.map((e) => e.code ?? e.event) };
}

test("an event loop blocked past stale: the real holder loses its lock to a waiter (ECOMPROMISED)", async (t) => {
  const { waiterGotIn, events } = await blockedHolder(t, "real");
  assert.equal(waiterGotIn, true, "the waiter judged the unrefreshed lock stale and took it");
  assert.deepEqual(events, ["ECOMPROMISED", "block-done", "ERELEASED"]);
});

test("an event loop blocked past stale: our holder keeps its lock (refreshed natively)", async (t) => {
  const { waiterGotIn, events } = await blockedHolder(t, "ours");
  assert.equal(waiterGotIn, false, "the waiter never got in");
  assert.deepEqual(events, ["block-done", "released"], "no compromise: the hold lasted through the block");
});
