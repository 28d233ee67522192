// How the gateway uses the package: a startup sweep of its sessions directory, appends under
// the session's write lock, and the close handler of an in-process restart (SIGUSR1): close,
// release every session lock, start a new instance nonce. Type-checked against the package's
// typings with `tsc --strict` (tests/node/run.sh) and run by tests/node/server-close.test.mjs.

import { appendFile } from "node:fs/promises";
import type { Server } from "node:http";
import {
  acquireSessionWriteLock,
  cleanStaleLockFiles,
  isSessionWriteLockStaleError,
  isSessionWriteLockTimeoutError,
  releaseAllSessionWriteLocks,
  resetInstanceNonce,
  SessionWriteLockError,
  type SessionLockInspection,
} from "session-write-lock";

export type ServerCloseHandler = (reason: string) => Promise<void>;

/** The gateway's startup sweep: removes what is provably stale, logs each removal. */
export async function sweepSessionLocks(
  sessionsDir: string,
  log: { warn: (message: string) => void },
): Promise<SessionLockInspection[]> {
  const { cleaned } = await cleanStaleLockFiles({ sessionsDir, log: { warn: log.warn } });
  return cleaned;
}

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

/** Appends one transcript line under the session's write lock, on behalf of run `runId`. */
export async function appendToSession(
  sessionFile: string,
  line: string,
  runId: string,
  signal?: AbortSignal,
): Promise<"written" | "busy" | "stale"> {
  try {
    await using lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: 10_000, reentrantOwner: runId, signal });
    lock.assertOwned();
    await appendFile(sessionFile, `${line}\n`);
    return "written";
  } catch (error) {
    if (isSessionWriteLockTimeoutError(error)) {
      const older: SessionWriteLockError = error;
      console.warn(`session busy for ${older.timeoutMs} ms (${error.owner}): ${error.lockPath}`);
      return "busy";
    }
    if (isSessionWriteLockStaleError(error)) {
      console.warn(`session lock stale (${error.staleReasons.join(", ")}): ${error.lockPath}`);
      return "stale";
    }
    throw error;
  }
}
