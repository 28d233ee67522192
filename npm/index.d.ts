/// <reference lib="esnext.disposable" />
/**
 * session-write-lock: a cross-process write lock per session file (DESIGN §5), a drop-in for
 * the gateway's `session-write-lock` TypeScript module. `<dir>/<id>.jsonl` is guarded by
 * `<dir>/<id>.jsonl.lock`; the holder keeps an exclusive `flock(2)` on it, so a dead holder is
 * seen at once, and locks of the TypeScript module are still honoured.
 */

/** Options of {@link acquireSessionWriteLock}. */
export interface AcquireSessionWriteLockParams {
  /** The session file to guard; its directory is created if missing. Not empty, no NUL. */
  sessionFile: string;
  /** How long to wait for a busy lock. Default 10 000; `Infinity` waits forever; `0` tries once. */
  timeoutMs?: number;
  /** Age after which a lock of the TypeScript module (and one from another host) is stale. Default 30 min. */
  staleMs?: number;
  /** Watchdog: a lock held longer is released by force (and logged). Default 5 min; `Infinity` disables it. */
  maxHoldMs?: number;
  /** Whether a second acquire in this process joins a lock it already holds. Default `true`. */
  allowReentrant?: boolean;
}

/** A held lock. */
export interface SessionWriteLockHandle {
  /** The lock file: `realpath(dirname(sessionFile)) + "/" + basename(sessionFile) + ".lock"`. */
  readonly lockPath: string;
  /**
   * Ends this hold; the lock file goes with the last reentrant hold. Calling it again, or after
   * the lock was released by force (watchdog, {@link releaseAllSessionWriteLocks}, a nonce
   * takeover), does nothing, and never releases a newer lock of the same file.
   */
  release(): Promise<void>;
  /** `await using lock = await acquireSessionWriteLock(…)` releases at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Takes the lock of `params.sessionFile`, waiting up to `timeoutMs` for a busy one. The wait
 * happens in the native lock service, never on a libuv pool thread.
 *
 * @throws {SessionWriteLockError} the lock stayed busy until the timeout.
 * @throws {TypeError} an option of the wrong type, an empty `sessionFile` or one with NUL.
 * @throws {RangeError} a number option that is NaN, negative or out of range.
 * @throws {Error} an I/O failure, with `code` (`EACCES`, `ENOTDIR`, …) and `path`.
 */
export function acquireSessionWriteLock(
  params: AcquireSessionWriteLockParams,
): Promise<SessionWriteLockHandle>;

/**
 * Releases every lock this process holds, then rotates the instance nonce. Resolves to how many
 * locks were released. Idempotent. Call it from a server's close handler, then
 * {@link resetInstanceNonce}, before restarting in the same process.
 */
export function releaseAllSessionWriteLocks(): Promise<number>;

/** {@link releaseAllSessionWriteLocks}, synchronously: for exit and signal handlers. */
export function releaseAllSessionWriteLocksSync(): number;

/**
 * Starts a new instance nonce (32 lowercase hex digits) and returns it. Locks still held keep
 * the old nonce on disk; this process's next acquire of such a file takes it over at once.
 */
export function resetInstanceNonce(): string;

/** The current instance nonce (32 lowercase hex digits), written into every lock file. */
export function getInstanceNonce(): string;

/** One lock file as the protocol sees it. */
export interface SessionLockInspection {
  lockPath: string;
  /** The holder's pid, or `null` when the file names none. */
  pid: number | null;
  /** The holder is alive: it holds the flock (this library) or its pid answers (legacy files). */
  pidAlive: boolean;
  /** Acquisition time (ISO-8601), or `null` when missing. */
  createdAt: string | null;
  /** Now minus `createdAt`, or `null` when `createdAt` is missing or unparsable. */
  ageMs: number | null;
  /** The lock may be reclaimed now; `staleReasons` says why. */
  stale: boolean;
  /**
   * `holder-exited`, `nonce-mismatch`, `heartbeat-expired` (this library's files);
   * `missing-pid`, `invalid-createdAt`, `dead-pid`, `recycled-pid`, `orphan-self-pid`,
   * `too-old` (files of the TypeScript module).
   */
  staleReasons: string[];
  /** {@link cleanStaleLockFiles} removed it. */
  removed: boolean;
  /** The holder's instance nonce, or `null` (TypeScript module files may have none). */
  nonce: string | null;
  /** The holder's host name, or `null`. */
  hostname: string | null;
  /** `"flock"` (this library), `"legacy"` (the TypeScript module) or `"not-a-file"`. */
  format: "flock" | "legacy" | "not-a-file";
  /** Who holds it, as error messages say it (`pid=12`, `pid=12 host=b`), or what is in the way. */
  owner: string;
}

/** Options of {@link cleanStaleLockFiles}. */
export interface CleanStaleLockFilesParams {
  /** The directory of the session files. A missing directory has no locks. */
  sessionsDir: string;
  /** Age after which a lock of the TypeScript module is stale. Default 30 min. */
  staleMs?: number;
  /** Remove the stale ones (default `true`); `false` only reports. */
  removeStale?: boolean;
  /** The clock for ages, in milliseconds since 1970 (default `Date.now()`). */
  nowMs?: number;
}

/**
 * Inspects every `*.jsonl.lock` in `sessionsDir` (sorted by name) and removes the stale ones
 * with the same race-free reclaim as acquire (a lock is only removed with its flock in hand).
 */
export function cleanStaleLockFiles(params: CleanStaleLockFilesParams): Promise<{
  locks: SessionLockInspection[];
  cleaned: SessionLockInspection[];
}>;

/** Inspects the lock of `sessionFile`; `null` when there is no lock file. Never removes it. */
export function inspectSessionWriteLock(sessionFile: string): Promise<SessionLockInspection | null>;

/**
 * A max-hold for a lock held during a run of `timeoutMs`: `max(minMs, timeoutMs + graceMs)`,
 * clamped to 2 147 000 000 (the largest timer delay); `Infinity` gives the clamp.
 * Defaults: `graceMs` 2 min, `minMs` 5 min.
 */
export function resolveSessionLockMaxHoldFromTimeout(params: {
  timeoutMs: number;
  graceMs?: number;
  minMs?: number;
}): number;

/**
 * Where the library's log lines go (watchdog releases, compromised locks). Default, or after
 * `null`: stderr. The logger is called on the main thread; it does not keep the process alive.
 */
export function setSessionWriteLockLogger(logger: ((line: string) => void) | null): void;

/** The lock stayed busy until the timeout. */
export class SessionWriteLockError extends Error {
  constructor(message: string, details: { timeoutMs: number; lockPath: string; owner: string });
  readonly reason: "session_busy";
  /** The timeout that ran out (`Infinity` if the caller would have waited forever). */
  readonly timeoutMs: number;
  readonly lockPath: string;
  /** Who holds it: `pid=12`, `pid=12 host=b`, or what occupies the lock path. */
  readonly owner: string;
}
