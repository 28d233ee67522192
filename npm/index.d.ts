/// <reference lib="esnext.disposable" />
/**
 * session-write-lock: a cross-process write lock per session file (docs/PROTOCOL.md), a drop-in for
 * the gateway's `session-write-lock` TypeScript module. `<dir>/<id>.jsonl` is guarded by
 * `<dir>/<id>.jsonl.lock`; the holder keeps an exclusive `flock(2)` on it, so a dead holder is
 * seen as soon as the kernel closes its descriptors (waiters are woken by that event, not by
 * polling; see docs/PROTOCOL.md, "Waiting"), and locks of the TypeScript module are still
 * honoured.
 */

/** Options of {@link acquireSessionWriteLock}. */
export interface AcquireSessionWriteLockParams {
  /**
   * The session file to guard; its directory is created if missing. Not empty, no NUL, and
   * not a directory name (`…/`, `…/.`, `…/..`): those are a `TypeError`.
   */
  sessionFile: string;
  /**
   * How long to wait for a busy lock. Default 60 000 (or the environment's
   * `OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS`); `Infinity` waits forever. As in the
   * gateway's module, a non-number, `NaN`, 0 or a negative value means the default.
   */
  timeoutMs?: number;
  /** Age after which a lock of the TypeScript module is `too-old`. Default 30 min; bad values mean the default. */
  staleMs?: number;
  /**
   * Watchdog: a lock held longer is released by force (and logged). Default 5 min; bad values
   * and `Infinity` mean the default. Written into the lock file, so the gateway's own module
   * applies its `hold-exceeded` rule to it. Under `VITEST=true` (unless
   * `OPENCLAW_TEST_SESSION_LOCK_WATCHDOG=1`), as in the gateway's module, only
   * `testing.runLockWatchdogCheck` ends such holds.
   */
  maxHoldMs?: number;
  /** Nest into a hold this process already has, whoever took it. Default `false`: a second acquire waits. */
  allowReentrant?: boolean;
  /** Nest only into a hold taken with this same owner identity (a run id). Also the hold's label. */
  reentrantOwner?: string;
  /** A label for people (at most 200 characters are kept): written into the lock file, shown by diagnostics. */
  owner?: string;
  /**
   * Aborts the wait only: an already aborted signal rejects at once with `signal.reason` (when it
   * is an `Error`, else an `AbortError` "request aborted"); an abort during the wait rejects and
   * leaves no lock behind; a lock already granted is kept. Anything but an `AbortSignal` (also
   * `null`) is a `TypeError` (`ERR_INVALID_ARG_TYPE`), before any wait starts.
   */
  signal?: AbortSignal;
}

/** A held lock. */
export interface SessionWriteLockHandle {
  /** The lock file: `realpath(dirname(sessionFile)) + "/" + basename(sessionFile) + ".lock"`. */
  readonly lockPath: string;
  /**
   * Ends this hold; the lock file goes with the last nested hold. Calling it again, or after
   * the lock was released by force (watchdog, {@link releaseAllSessionWriteLocks}, a nonce
   * takeover), does nothing, and never releases a newer lock of the same file.
   */
  release(): Promise<void>;
  /**
   * Throws a {@link SessionWriteLockStaleError} with `lease-lost` when this hold is no longer in
   * force: released, ended by force (watchdog, release-all, takeover), or the lock file was
   * removed or replaced by another process.
   */
  assertOwned(): void;
  /** `await using lock = await acquireSessionWriteLock(…)` releases at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Takes the lock of `params.sessionFile`, waiting up to `timeoutMs` for a busy one. The wait
 * happens in the native lock service, never on a libuv pool thread.
 *
 * @throws {SessionWriteLockTimeoutError} the lock stayed busy until the timeout.
 * @throws {SessionWriteLockStaleError} the holder is alive but only too old (`too-old`,
 *   `hold-exceeded`): reported at once, the lock file is kept.
 * @throws {TypeError} a `sessionFile` that is not a file path, or an option of the wrong type.
 * @throws {Error} an I/O failure, with `code` (`EACCES`, `ENOTDIR`, …) and `path`; or the
 *   signal's reason.
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
  /** At least one reason applies (`removable` says whether it may go). */
  stale: boolean;
  /**
   * `holder-exited`, `nonce-mismatch`, `heartbeat-expired`, `hold-exceeded` (this library's
   * files); `missing-pid`, `invalid-createdAt`, `dead-pid`, `recycled-pid`, `orphan-self-pid`,
   * `too-old`, `hold-exceeded`, `non-openclaw-owner` (files of the TypeScript module).
   */
  staleReasons: string[];
  /** It may be removed now: stale, not merely old (`too-old`/`hold-exceeded` alone are report-only). */
  removable: boolean;
  /** {@link cleanStaleLockFiles} removed it. */
  removed: boolean;
  /** The holder's instance nonce, or `null` (TypeScript module files may have none). */
  nonce: string | null;
  /** The holder's host name, or `null`. */
  hostname: string | null;
  /** `"flock"` (this library), `"legacy"` (the TypeScript module) or `"not-a-file"`. */
  format: "flock" | "legacy" | "not-a-file";
  /** Who holds it, as error messages say it (`pid=12 alive=true ageMs=5`, `… host=b`), or what is in the way. */
  owner: string;
  /** The holder's label from the lock file, or `null`. */
  ownerLabel: string | null;
  /** The holder's max-hold from the lock file, or `null`. */
  maxHoldMs: number | null;
}

/** Reads the command line of a process, for the sweep's owner check; `null` when unknown. */
export type SessionLockOwnerProcessArgsReader = (pid: number) => string[] | null;

/** The environment the settings are read from (default `process.env`). */
export type SessionWriteLockEnv = NodeJS.ProcessEnv | Record<string, string | undefined>;

/** The part of the gateway's configuration these settings read (`session.writeLock`). */
export interface SessionWriteLockAcquireTimeoutConfig {
  session?: { writeLock?: { acquireTimeoutMs?: number; staleMs?: number; maxHoldMs?: number } };
}

/** Options of {@link cleanStaleLockFiles}. */
export interface CleanStaleLockFilesParams {
  /** The directory of the session files. A missing directory has no locks. */
  sessionsDir: string;
  /** Configuration; `session.writeLock.staleMs` applies when `staleMs` is not given. */
  config?: SessionWriteLockAcquireTimeoutConfig;
  /** Environment for the settings (default `process.env`). */
  env?: SessionWriteLockEnv;
  /** Age after which a lock of the TypeScript module is `too-old`. Default from env/config, else 30 min. */
  staleMs?: number;
  /** Remove the removable ones (default `true`); only an explicit `false` only reports. */
  removeStale?: boolean;
  /** The clock for ages, in milliseconds since 1970 (default `Date.now()`). */
  nowMs?: number;
  /**
   * Reads a live legacy holder's command line (default: the system's, `/proc/<pid>/cmdline`);
   * called at most once per pid per sweep; a reader that throws means "unknown" (kept) and is
   * asked again for the next lock. A holder whose command line is not the gateway's is
   * `non-openclaw-owner`.
   */
  readOwnerProcessArgs?: SessionLockOwnerProcessArgsReader;
  /**
   * `log.warn("removed stale session lock: <path> (<reasons>)")` for each removal and
   * `log.warn("could not sweep session lock: <message>")` for each entry of `errors`; file
   * names in these lines have their control characters escaped.
   */
  log?: { warn?: (message: string) => void; info?: (message: string) => void };
}

/** A lock file {@link cleanStaleLockFiles} could not inspect or remove. */
export interface CleanStaleLockFileError {
  /** The lock file (a name that is not UTF-8 has U+FFFD in place of its bad bytes). */
  lockPath: string;
  /** The errno's name (`EACCES`, `EPERM`, …), or `null` when no system call failed. */
  code: string | null;
  /** What went wrong, control characters escaped. */
  message: string;
}

/** What {@link cleanStaleLockFiles} found and did. */
export interface CleanStaleLockFilesResult {
  /** Every lock file that could be inspected, sorted by name. */
  locks: SessionLockInspection[];
  /** The ones removed. */
  cleaned: SessionLockInspection[];
  /** Temp files of crashed writers removed. */
  tempFilesRemoved: string[];
  /** The lock files that could not be inspected or removed; the sweep went on. Empty when all went well. */
  errors: CleanStaleLockFileError[];
}

/**
 * Inspects every `*.jsonl.lock` in `sessionsDir` (sorted by name, names that are not UTF-8
 * included) and removes the removable ones with the same race-free reclaim as acquire (a lock
 * is only removed with its flock in hand), plus temp files of crashed writers older than
 * `staleMs`. Yields to the event loop at every lock file; every file is read by the native
 * inspection, off the JavaScript thread (never through a symlink, never a FIFO or device, at
 * most 64 KiB). A lock file that cannot be inspected or removed is listed in `errors` and the
 * sweep goes on; only a directory that cannot be listed rejects.
 */
export function cleanStaleLockFiles(params: CleanStaleLockFilesParams): Promise<CleanStaleLockFilesResult>;

/** Inspects the lock of `sessionFile`; `null` when there is no lock file. Never removes it. */
export function inspectSessionWriteLock(sessionFile: string): Promise<SessionLockInspection | null>;

/**
 * A max-hold for a lock held during a run of `timeoutMs`:
 * `min(2 147 000 000, max(minMs, timeoutMs + graceMs))`; `Infinity` gives the clamp. Lenient
 * like the gateway's: a value that is not a positive number means its default (`minMs` 5 min,
 * `graceMs` 2 min, `timeoutMs` = `minMs`).
 */
export function resolveSessionLockMaxHoldFromTimeout(params: {
  timeoutMs?: number;
  graceMs?: number;
  minMs?: number;
}): number;

/**
 * The acquire timeout: `OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS` (or
 * `SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS`) in `env` (ASCII digits, > 0, a safe integer, or
 * `Infinity`; anything else is ignored), then `config.session.writeLock.acquireTimeoutMs`,
 * then 60 000.
 */
export function resolveSessionWriteLockAcquireTimeoutMs(
  config?: SessionWriteLockAcquireTimeoutConfig,
  env?: SessionWriteLockEnv,
): number;

/** The stale age: `…_STALE_MS` in `env` (no `Infinity`), then the configuration, then 30 min. */
export function resolveSessionWriteLockStaleMs(
  config?: SessionWriteLockAcquireTimeoutConfig,
  env?: SessionWriteLockEnv,
): number;

/** All three settings; `maxHoldMsFallback` replaces the 5 min max-hold default. */
export function resolveSessionWriteLockOptions(
  config?: SessionWriteLockAcquireTimeoutConfig,
  options?: { env?: SessionWriteLockEnv; maxHoldMsFallback?: number },
): { timeoutMs: number; staleMs: number; maxHoldMs: number };

/** A hold of this process, for finding one held too long. */
export interface HeldSessionWriteLock {
  lockPath: string;
  /** The hold's label (`owner`, else `reentrantOwner`), or `null`. */
  owner: string | null;
  /** When it was acquired (ISO-8601). */
  acquiredAt: string;
  ageMs: number;
  /** Nested holds. */
  count: number;
  maxHoldMs: number | null;
  /** When the watchdog ends it (ISO-8601), or `null`. */
  deadlineAt: string | null;
  /** The first frames of the acquiring call outside this package (`at fn (file:line:col)`). */
  stack: string[];
}

/** Every hold of this process, oldest first. */
export function listHeldSessionWriteLocks(): HeldSessionWriteLock[];

/**
 * Where the library's log lines go (watchdog releases, compromised locks). Default, or after
 * `null`: stderr. The logger is called on the main thread; it does not keep the process alive.
 */
export function setSessionWriteLockLogger(logger: ((line: string) => void) | null): void;

/** The fields of a timeout error. */
export interface SessionWriteLockTimeoutErrorParams {
  timeoutMs: number;
  owner: string;
  lockPath: string;
  ownerPid?: number;
  ownerPidAlive?: boolean;
}

/**
 * The lock stayed busy until the timeout: `session file locked (timeout <t>ms): <owner> <lockPath>`,
 * plus ` (held by this process: owner=<label>, for <n>ms, acquired at …)` when a hold of this
 * process blocks it.
 */
export class SessionWriteLockTimeoutError extends Error {
  constructor(params: SessionWriteLockTimeoutErrorParams);
  /** The older form: `(message, { timeoutMs, lockPath, owner })`. */
  constructor(message: string, details: { timeoutMs: number; lockPath: string; owner: string });
  readonly name: "SessionWriteLockTimeoutError";
  readonly code: "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT";
  readonly reason: "session_busy";
  /** The timeout that ran out (`Infinity` if the caller would have waited forever). */
  readonly timeoutMs: number;
  readonly lockPath: string;
  /** Who holds it: `pid=12 alive=true ageMs=500`, `owner=unknown`, or what occupies the lock path. */
  readonly owner: string;
  /** The holder's pid, as the acquire saw it. */
  readonly ownerPid: number | undefined;
  /** Whether that holder was alive. */
  readonly ownerPidAlive: boolean;
  /** The hold of this process that blocks, when there is one. */
  readonly heldBy?: HeldSessionWriteLock;
}

/** The older name of {@link SessionWriteLockTimeoutError} (the same class). */
export const SessionWriteLockError: typeof SessionWriteLockTimeoutError;
export type SessionWriteLockError = SessionWriteLockTimeoutError;

/**
 * The holder is alive but only too old (`too-old`, `hold-exceeded`), reported at once with the
 * file kept; or a hold was lost (`lease-lost`, from `assertOwned()`):
 * `session file lock stale (<reasons>): <owner> <lockPath>`.
 */
export class SessionWriteLockStaleError extends Error {
  constructor(params: { owner: string; lockPath: string; staleReasons?: string[]; ownerPid?: number; ownerPidAlive?: boolean });
  readonly name: "SessionWriteLockStaleError";
  readonly code: "OPENCLAW_SESSION_WRITE_LOCK_STALE";
  readonly lockPath: string;
  readonly owner: string;
  /** The reasons; an empty list becomes `["unknown"]`. */
  readonly staleReasons: string[];
  readonly ownerPid: number | undefined;
  readonly ownerPidAlive: boolean;
  readonly heldBy?: HeldSessionWriteLock;
}

/** A timeout error, by class or by `code` on any object. */
export function isSessionWriteLockTimeoutError(error: unknown): error is SessionWriteLockTimeoutError;
/** A stale error, by class or by `code` on any object. */
export function isSessionWriteLockStaleError(error: unknown): error is SessionWriteLockStaleError;
/** Either of the two. */
export function isSessionWriteLockAcquireError(
  error: unknown,
): error is SessionWriteLockTimeoutError | SessionWriteLockStaleError;
/** A timeout whose holder is this very process, alive (`ownerPid === process.pid`, `ownerPidAlive`). */
export function isSessionWriteLockBusyWithActiveRun(error: unknown): error is SessionWriteLockTimeoutError;

/** Test hook of the gateway's module: removes the package's process listeners. */
export function drainSessionWriteLockStateForTest(): Promise<void>;
/**
 * Test hook: releases every hold, removes the package's process listeners and restores the
 * real start-time reading (see `testing.setProcessStartTimeResolverForTest`).
 */
export function resetSessionWriteLockStateForTest(): void;

/** The gateway's test hooks, backed by the native engine. */
export interface SessionWriteLockTesting {
  readonly cleanupSignals: readonly ("SIGINT" | "SIGTERM" | "SIGQUIT" | "SIGABRT")[];
  /** What the package's signal listener does: release all; re-raise if it is the only listener. */
  handleTerminationSignal(signal: NodeJS.Signals): void;
  /**
   * The pure verdict on a payload; the pid is probed now. As the gateway's hook: not held by
   * this process, no `orphan-self-pid` for a payload without `starttime`, `hold-exceeded` only
   * with `respectMaxHold: true`.
   */
  inspectLockPayloadForTest(
    payload: unknown,
    staleMs: number,
    nowMs: number,
    options?: { respectMaxHold?: boolean },
  ): Pick<SessionLockInspection, "pid" | "pidAlive" | "createdAt" | "ageMs" | "stale" | "staleReasons">;
  releaseAllLocksSync(): number;
  /** The watchdog as if the clock read `nowMs`; resolves to how many holds it ended. */
  runLockWatchdogCheck(nowMs?: number): Promise<number>;
  resolveRemainingAcquireTimeoutMs(timeoutMs: number, startedAtMs: number, nowMs: number): number;
  /**
   * Replaces how a process's start time is read (our pid and others) for the `recycled-pid`
   * and `orphan-self-pid` rules; `null` restores the real reading, and so does
   * `resetSessionWriteLockStateForTest` (drain does not). A throw or an answer that is not a
   * non-negative integer means "unknown". It is called on the JS thread when a call starts,
   * for our pid and the pid in each lock file that call looks at (docs/PROTOCOL.md, "Test hooks").
   */
  setProcessStartTimeResolverForTest(resolver: ((pid: number) => number | bigint | null | undefined) | null): void;
}

export const testing: SessionWriteLockTesting;
/** Alias of {@link testing}. */
export const __testing: SessionWriteLockTesting;
