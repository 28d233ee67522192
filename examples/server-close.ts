// How the gateway uses the package when it closes its server for an in-process restart
// (SIGUSR1): close, release every session lock, start a new instance nonce. Type-checked
// against the package's typings by tests/node/run.sh (`tsc -p examples`).

import { appendFile } from "node:fs/promises";
import type { Server } from "node:http";
import {
  acquireSessionWriteLock,
  releaseAllSessionWriteLocks,
  resetInstanceNonce,
  SessionWriteLockError,
} from "session-write-lock";

export type ServerCloseHandler = (reason: string) => Promise<void>;

export function createServerCloseHandler(params: {
  server: Server;
  log?: (message: string) => void;
}): ServerCloseHandler {
  const { server, log = console.log } = params;
  return async (reason) => {
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    // Locks of in-flight writes must not outlive this iteration: the next one runs in this very
    // process (same pid) and would otherwise wait for them until they went stale.
    const released: number = await releaseAllSessionWriteLocks();
    // Anything this iteration still leaves behind carries the old nonce and is taken over at once.
    const nonce: string = resetInstanceNonce();
    log(`server closed (${reason}): released ${released} session lock(s), instance nonce ${nonce}`);
  };
}

/** Appends one transcript line under the session's write lock. */
export async function appendToSession(sessionFile: string, line: string): Promise<boolean> {
  try {
    await using lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: 10_000 });
    await appendFile(sessionFile, `${line}\n`);
    return lock.lockPath.endsWith(".jsonl.lock");
  } catch (error) {
    if (error instanceof SessionWriteLockError) {
      console.warn(`session busy for ${error.timeoutMs} ms (${error.owner}): ${error.lockPath}`);
      return false;
    }
    throw error;
  }
}
