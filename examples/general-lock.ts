// The general face (session-write-lock/lock) as a TypeScript program uses it: a guarded
// update, a one-try variant, and the error classes. Type-checked against the package's
// typings with `tsc --strict` (tests/node/run.sh); the same calls run in tests/node/lock.test.mjs.

import { readFile, writeFile } from "node:fs/promises";
import {
  lock,
  LockBusyError,
  LockCompromisedError,
  tryLockSync,
  withLock,
  type Lock,
  type LockOptions,
} from "session-write-lock/lock";

const options: LockOptions = { timeoutMs: 5_000, foreign: "dotlock", onLost: (error) => console.error(error.code) };

/** Adds one to the counter in `file`, holding its lock; waits up to 5 s for it. */
export async function increment(file: string): Promise<number> {
  return withLock(
    file,
    async (held: Lock) => {
      const next = Number(await readFile(file, "utf8").catch(() => "0")) + 1;
      held.assertOwned();
      await writeFile(file, String(next));
      return next;
    },
    options,
  );
}

/** One try from synchronous code: false when someone else holds it. */
export function tryOnce(file: string, work: () => void): boolean {
  const held = tryLockSync(file);
  if (held === null) return false;
  try {
    work();
  } finally {
    held.releaseSync();
  }
  return true;
}

/** Who holds it, when it stays busy for 100 ms. */
export async function holderOf(file: string): Promise<number | null | "free"> {
  try {
    const held = await lock(file, { timeoutMs: 100 });
    await held.release();
    return "free";
  } catch (error: unknown) {
    if (error instanceof LockBusyError) return error.holder.pid;
    if (error instanceof LockCompromisedError) throw new Error(`lost: ${error.lockPath}`);
    throw error;
  }
}
