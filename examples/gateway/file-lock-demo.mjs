// The file-lock demo (README, scripts/demo.sh): the gateway's state lock as fs-safe's sidecar
// file lock, taken through session-write-lock/file-lock with the gateway's options and hooks.
//   1. a gateway holding the lock is SIGKILLed: the next one takes it at once (the kernel's flock
//      proves the holder dead, no owner check needed);
//   2. a gateway still on fs-safe's own code left a stale lock; the next gateway starts
//      reclaiming it and is SIGKILLed inside the reclaim guard (`<lock>.reclaim` left behind:
//      with fs-safe's code every later start would wait on it until its timeout, forever);
//   3. the next gateway gets the lock at once, and leaves nothing behind.
//
//   node examples/gateway/file-lock-demo.mjs        (scripts/demo.sh builds everything first)

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { acquireFileLock } from "../../npm/file-lock.mjs";

const self = fileURLToPath(import.meta.url);
const ms = (value) => `${value.toFixed(1)} ms`;

/** The gateway's predicate (both hooks): the owner is gone when its pid is. */
const ownerGone = ({ payload }) => {
  try {
    process.kill(payload?.pid, 0);
    return false;
  } catch (error) {
    return error.code === "ESRCH";
  }
};

/** The gateway's state-lock options: fs-safe's file lock, never stale by age, owner checks as hooks. */
function gatewayOptions(hooks = {}) {
  return {
    payload: () => ({ pid: process.pid, ownerId: `gateway-${process.pid}`, createdAt: new Date().toISOString() }),
    staleMs: Number.POSITIVE_INFINITY,
    staleRecovery: "remove-if-unchanged",
    shouldReclaim: ownerGone,
    shouldRemoveStaleLock: ownerGone,
    timeoutMs: 5_000,
    retry: { factor: 1.25, minTimeout: 10, maxTimeout: 25 },
    ...hooks,
  };
}

/** A child gateway: "hold" takes the lock and keeps it; "reclaim" stops inside the reclaim guard. */
async function child(role, target) {
  const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
  // Alive until killed, also while the reclaim role waits in its hook: a pending promise alone
  // keeps no process running, and an exit would let the exit cleanup remove the guard.
  setInterval(() => {}, 1 << 30);
  const options =
    role === "reclaim"
      ? gatewayOptions({
          shouldRemoveStaleLock: () => {
            say({ event: "in-guard" });
            return new Promise(() => {}); // until killed
          },
        })
      : gatewayOptions();
  const handle = await acquireFileLock(target, options);
  say({ event: "held", lockPath: handle.lockPath });
}

/** The lock file a gateway on fs-safe's code leaves when killed: fs-safe's bytes, a dead pid. */
function writeFsSafeLock(lockPath) {
  const pid = spawnSync(process.execPath, ["-p", "process.pid"], { encoding: "utf8" }).stdout.trim();
  const bits = [...randomBytes(16)].map((byte) => byte.toString(2).padStart(8, "0")).join("");
  const token = "\t".repeat(8) + bits.replaceAll("1", "\t").replaceAll("0", " ");
  const payload = { pid: Number(pid), ownerId: `gateway-${pid}`, createdAt: new Date().toISOString() };
  fs.writeFileSync(lockPath, `${JSON.stringify(payload, null, 2)}\n${token}\n`, { mode: 0o600 });
  return pid;
}

function startChild(role, target) {
  const proc = spawn(process.execPath, [self, "child", role, target], { stdio: ["ignore", "pipe", "inherit"] });
  const events = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  return {
    pid: proc.pid,
    async next(expected) {
      const { value, done } = await events.next();
      if (done) throw new Error(`the ${role} gateway exited while the demo expected "${expected}"`);
      const event = JSON.parse(value);
      if (event.event !== expected) throw new Error(`expected ${expected}, got ${value}`);
      return event;
    },
    async kill() {
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

async function demo() {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "file-lock-demo-"));
  const target = path.join(stateDir, "gateway.state");
  try {
    console.log(`\n== 4. fs-safe's file lock (the gateway's state lock, in ${stateDir})`);
    const first = startChild("hold", target);
    const { lockPath } = await first.next("held");
    await first.kill();
    let started = performance.now();
    await (await acquireFileLock(target, gatewayOptions())).release();
    console.log(
      `gateway pid ${first.pid} held ${path.basename(lockPath)} and was SIGKILLed; the next gateway ` +
        `took the lock in ${ms(performance.now() - started)} (its flock proved the holder dead)`,
    );

    const oldPid = writeFsSafeLock(lockPath);
    const reclaimer = startChild("reclaim", target);
    await reclaimer.next("in-guard");
    await reclaimer.kill();
    const left = fs.readdirSync(stateDir).sort();
    console.log(
      `a gateway on fs-safe's code (pid ${oldPid}) left a stale lock; gateway pid ${reclaimer.pid} was ` +
        `SIGKILLed inside stale recovery; left behind: ${left.join(", ")}`,
    );

    started = performance.now();
    const handle = await acquireFileLock(target, gatewayOptions());
    console.log(
      `the next gateway took the lock ${ms(performance.now() - started)} after it started: not wedged ` +
        `(with fs-safe's own code: "lock timeout after 5000ms" on every start until the guard is removed by hand)`,
    );
    await handle.release();
    console.log(`released; left behind: ${fs.readdirSync(stateDir).length} files`);
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "child") await child(process.argv[3], process.argv[4]);
else await demo();
