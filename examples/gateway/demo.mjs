// The gateway restart demo (README): runs gateway.mjs and shows, with timings,
//   1. an in-process restart (SIGUSR1) finds every session writable at once;
//   2. so does a restart whose close handler never released (SIGUSR2: nonce takeover);
//   3. after a crash (SIGKILL) another process takes the locks within milliseconds;
//   4. two pid-1 gateways in separate pid namespaces (containers) never steal each other's lock.
//
//   node examples/gateway/demo.mjs        (scripts/demo.sh builds everything first)

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { acquireSessionWriteLock, inspectSessionWriteLock } from "../../npm/index.mjs";

const gatewayScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "gateway.mjs");
const sessionsDir = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-demo-"));
const sessions = ["alice", "bob", "carol"];
const sessionFile = (id) => path.join(sessionsDir, `${id}.jsonl`);
const ms = (value) => `${value.toFixed(1)} ms`;

/** Starts gateway.mjs (optionally under a command prefix such as unshare) and follows its events. */
function startGateway(ids, { prefix = [], timeoutMs } = {}) {
  const [command, ...args] = [...prefix, process.execPath, gatewayScript, sessionsDir, ...ids];
  const env = { ...process.env, ...(timeoutMs === undefined ? {} : { GATEWAY_LOCK_TIMEOUT_MS: String(timeoutMs) }) };
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  const events = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    child,
    exited,
    async next(expected) {
      const { value, done } = await events.next();
      if (done) throw new Error(`the gateway exited while the demo expected "${expected}"`);
      const event = JSON.parse(value);
      if (expected && event.event !== expected) throw new Error(`expected ${expected}, got ${value}`);
      return event;
    },
  };
}

async function restarts() {
  console.log(`\n== 1. In-process restarts (sessions in ${sessionsDir})`);
  const gateway = startGateway(sessions);
  const ready = await gateway.next("ready");
  console.log(`gateway pid ${ready.pid} holds ${sessions.length} session locks (nonce ${ready.nonce.slice(0, 8)}…)`);
  const busy = await acquireSessionWriteLock({ sessionFile: sessionFile("alice"), timeoutMs: 1 }).catch((e) => e);
  console.log(`another process meanwhile: ${busy.name}: ${busy.message}`);

  for (const [signal, what] of [
    ["SIGUSR1", "close handler runs releaseAllSessionWriteLocks() + resetInstanceNonce()"],
    ["SIGUSR2", "close handler only resets the nonce: the locks are left behind"],
  ]) {
    const sent = performance.now();
    gateway.child.kill(signal);
    const closed = await gateway.next("closed");
    const next = await gateway.next("ready");
    console.log(
      `${signal} (${what}): released ${closed.released}; iteration ${next.iteration} had all ` +
        `${sessions.length} sessions locked and written ${ms(performance.now() - sent)} after the signal ` +
        `(locking itself: ${ms(next.lockedMs)}; before this library: blocked up to staleMs = 30 min)`,
    );
  }
  return gateway;
}

async function crash(gateway) {
  console.log("\n== 2. Crash: SIGKILL the gateway while another process waits for a session");
  const waiting = acquireSessionWriteLock({ sessionFile: sessionFile("alice"), timeoutMs: 5_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const killed = performance.now();
  gateway.child.kill("SIGKILL");
  const lock = await waiting;
  console.log(`the waiting process took the lock ${ms(performance.now() - killed)} after the SIGKILL`);
  await lock.release();

  const left = await inspectSessionWriteLock(sessionFile("bob"));
  console.log(`bob's lock file is still there (${left.owner}, stale: ${left.staleReasons.join(", ")})`);
  const next = startGateway(sessions, { timeoutMs: 1 });
  const ready = await next.next("ready");
  console.log(`a new gateway (pid ${ready.pid}) locked every session in ${ms(ready.lockedMs)}, without waiting`);
  next.child.kill("SIGTERM");
  await next.exited;
  console.log(`stopped with SIGTERM, it left ${leftovers()} lock files behind`);
}

function leftovers() {
  return fs.readdirSync(sessionsDir).filter((name) => name.endsWith(".lock")).length;
}

async function containers() {
  console.log("\n== 3. Two pid-1 containers sharing the sessions volume");
  const prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL"];
  const probe = spawnSync(prefix[0], [...prefix.slice(1), process.execPath, "-p", "process.pid"], { encoding: "utf8" });
  if (probe.status !== 0 || probe.stdout.trim() !== "1") {
    const why = (probe.error?.message ?? probe.stderr).trim() || `pid ${probe.stdout.trim()}`;
    console.log(`\n!!!!!!!! SKIPPED: unshare unavailable (${why}); needs root and util-linux unshare !!!!!!!!\n`);
    return;
  }
  const first = startGateway(["shared"], { prefix });
  const a = await first.next("ready");
  console.log(`container A: gateway pid ${a.pid} holds "shared"`);
  const second = startGateway(["shared"], { prefix, timeoutMs: 10_000 });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const seen = await inspectSessionWriteLock(sessionFile("shared"));
  console.log(
    `container B: gateway pid 1 as well, still waiting after 1 s; the lock is not stolen ` +
      `(owner: ${seen.owner}, pid alive: ${seen.pidAlive})`,
  );
  const killed = performance.now();
  first.child.kill("SIGKILL");
  const b = await second.next("ready");
  console.log(`container A killed: container B (pid ${b.pid}) took the lock ${ms(performance.now() - killed)} later`);
  second.child.kill("SIGKILL");
  await Promise.all([first.exited, second.exited]);
}

try {
  await crash(await restarts());
  await containers();
} finally {
  fs.rmSync(sessionsDir, { recursive: true, force: true });
}
