// A miniature gateway: an HTTP server whose in-flight agent runs hold session write locks.
// SIGUSR1 restarts it in-process the way the real gateway does (close handler: close the
// server, releaseAllSessionWriteLocks(), resetInstanceNonce(), then start again); SIGUSR2
// restarts it with a close handler that never got to release, which the nonce takeover covers.
//
//   node gateway.mjs <sessionsDir> <sessionId>...
//
// Prints one JSON event per line on stdout. Environment: GATEWAY_LOCK_TIMEOUT_MS (default 10 000).
// In the gateway itself the import is `from "session-write-lock"`.

import { appendFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import {
  acquireSessionWriteLock,
  getInstanceNonce,
  releaseAllSessionWriteLocks,
  resetInstanceNonce,
} from "../../npm/index.mjs";

const [sessionsDir, ...sessionIds] = process.argv.slice(2);
const timeoutMs = Number(process.env.GATEWAY_LOCK_TIMEOUT_MS ?? 10_000);
const say = (event) => console.log(JSON.stringify({ ...event, pid: process.pid }));

let iteration = 0;
let server;

/** Starts an iteration: a server, and one in-flight run per session, each holding its lock. */
async function start() {
  iteration += 1;
  server = http.createServer((_req, res) => res.end(`iteration ${iteration}\n`));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const started = performance.now();
  for (const id of sessionIds) {
    const sessionFile = path.join(sessionsDir, `${id}.jsonl`);
    try {
      await acquireSessionWriteLock({ sessionFile, timeoutMs });
    } catch (error) {
      say({ event: "busy", iteration, session: id, message: error.message });
      process.exit(1);
    }
    await appendFile(sessionFile, `${JSON.stringify({ iteration, at: new Date().toISOString() })}\n`);
  }
  say({ event: "ready", iteration, nonce: getInstanceNonce(), lockedMs: performance.now() - started });
}

/** The close handler of an in-process restart, as in examples/server-close.ts. */
async function close({ releaseLocks }) {
  await new Promise((resolve) => server.close(resolve));
  const released = releaseLocks ? await releaseAllSessionWriteLocks() : 0;
  resetInstanceNonce();
  return released;
}

async function restart(signal, releaseLocks) {
  const released = await close({ releaseLocks });
  say({ event: "closed", signal, released });
  await start();
}

process.on("SIGUSR1", () => restart("SIGUSR1", true));
process.on("SIGUSR2", () => restart("SIGUSR2", false));
await start();
