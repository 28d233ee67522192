// The program the install test compiles (tsc --strict, as ESM and as CommonJS) against the
// session-write-lock package installed from the local registry, and runs:
//   node check.js            acquire; another process finds the lock busy; release; the other
//                            process gets it; release-all + reset; fs-safe's file lock; the
//                            general face (session-write-lock/lock): a lock, a busy second try,
//                            release; prints "N passed, 0 failed"
//   node check.js try FILE   one try from this second process: prints acquired | busy | error
import {
  acquireSessionWriteLock,
  getInstanceNonce,
  releaseAllSessionWriteLocks,
  resetInstanceNonce,
  SessionWriteLockError,
  type SessionWriteLockHandle,
} from "session-write-lock";
import { acquireFileLock, type FileLockHandle } from "session-write-lock/file-lock";
import { lock as properLock, type LockOptions } from "session-write-lock/proper-lockfile";
import { lock as lockAnyFile, LockBusyError, tryLock, type Lock } from "session-write-lock/lock";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let passed = 0;
function check(condition: boolean, what: string): void {
  if (!condition) {
    console.log(`FAIL: ${what}`);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  passed += 1;
}

/** What a second process gets when it tries the lock of `sessionFile` once. */
function fromAnotherProcess(sessionFile: string): string {
  const script = process.argv[1] ?? "";
  const child = spawnSync(process.execPath, [script, "try", sessionFile], { encoding: "utf8" });
  return `${child.stdout.trim()}${child.stderr.trim()}`;
}

async function tryOnce(sessionFile: string): Promise<void> {
  try {
    const lock = await acquireSessionWriteLock({ sessionFile, timeoutMs: 50 });
    await lock.release();
    console.log("acquired");
  } catch (error: unknown) {
    console.log(error instanceof SessionWriteLockError ? "busy" : `error ${String(error)}`);
  }
}

async function main(): Promise<void> {
  const [mode, file] = process.argv.slice(2);
  if (mode === "try" && file !== undefined) return tryOnce(file);

  const dir = mkdtempSync(join(tmpdir(), "swl-package-"));
  const sessionFile = join(dir, "a.jsonl");
  const lock: SessionWriteLockHandle = await acquireSessionWriteLock({ sessionFile, timeoutMs: 5000 });
  check(existsSync(lock.lockPath), "the lock file exists while held");
  check(fromAnotherProcess(sessionFile) === "busy", "a second process finds the lock busy");
  await lock.release();
  check(!existsSync(lock.lockPath), "release removes the lock file");
  check(fromAnotherProcess(sessionFile) === "acquired", "a second process gets a released lock");

  await acquireSessionWriteLock({ sessionFile, timeoutMs: 5000 });
  await acquireSessionWriteLock({ sessionFile: join(dir, "b.jsonl"), timeoutMs: 5000 });
  check(fromAnotherProcess(sessionFile) === "busy", "held again");
  const released = await releaseAllSessionWriteLocks();
  check(released === 2, `release-all releases both locks (got ${released})`);
  const before = getInstanceNonce();
  const nonce = resetInstanceNonce();
  check(/^[0-9a-f]{32}$/.test(nonce) && nonce !== before, "reset gives a new instance nonce");
  check(fromAnotherProcess(sessionFile) === "acquired", "free after release-all");
  if (process.platform === "win32") {
    // The core's fs-safe sidecar lock and proper-lockfile's directory lock are Unix-only so
    // far: run.sh makes this line a loud skip.
    console.log("SKIPPED: session-write-lock/file-lock and /proper-lockfile are not ported to Windows yet");
  } else {
    const fileLock: FileLockHandle = await acquireFileLock(join(dir, "state"), { payload: () => ({ pid: process.pid }) });
    check(existsSync(fileLock.lockPath), "session-write-lock/file-lock takes fs-safe's file lock");
    await fileLock.release();
    check(!existsSync(fileLock.lockPath), "and its release removes the file");
    const data = join(dir, "data.json");
    writeFileSync(data, "{}");
    const options: LockOptions = { stale: 10_000 };
    const release = await properLock(data, options);
    check(statSync(`${data}.lock`).isDirectory(), "session-write-lock/proper-lockfile takes proper-lockfile's lock");
    await release();
    check(!existsSync(`${data}.lock`), "and its release removes the directory");
  }
  const text = join(dir, "data.txt");
  const general: Lock | null = await tryLock(text);
  check(general !== null && existsSync(`${text}.lock`), "session-write-lock/lock takes any file's lock");
  const busy = await lockAnyFile(text, { timeoutMs: 0 }).catch((error: unknown) => error);
  check(busy instanceof LockBusyError && busy.code === "ELOCKED", "a second lock of it is busy (one try)");
  await general?.release();
  check(!existsSync(`${text}.lock`), "and its release removes the file");
  rmSync(dir, { recursive: true, force: true });
  console.log(`${passed} passed, 0 failed`);
}

main().catch((error: unknown) => {
  console.log(`FAIL: ${String(error)}`);
  process.exit(1);
});
