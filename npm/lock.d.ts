// Types of session-write-lock/lock, the general face (docs/PROTOCOL.md, "The general Node face").

/** The rule for lock files this library did not write. */
export type ForeignRule = "keep" | "dotlock" | "gateway";

export interface LockOptions {
  /** How long to wait for a busy lock, in ms: default 60 000; `0` = exactly one try; `Infinity` = forever. */
  timeoutMs?: number;
  /** A hold older than this is force-released (then `onLost` is told). Default: none, no watchdog. */
  maxHoldMs?: number;
  /**
   * Files at `<path>.lock` this library did not write: `"keep"` (default) never removes them;
   * `"dotlock"` also takes over a dotlock (a decimal pid, as liblockfile writes) whose pid is
   * dead on this host; `"gateway"` applies the chat gateway's legacy rules.
   */
  foreign?: ForeignRule;
  /** Lock files of another host (a shared directory) count as stale when not refreshed for this long, in ms. Default 30 min. */
  staleMs?: number;
  /** A label for people, written into the lock file and shown by `session-lock status`. */
  owner?: string;
  /** Called once when this hold is lost (its `maxHoldMs` ended it, or its file was removed or replaced). */
  onLost?: (error: LockCompromisedError) => void;
  /** Gives up the wait (asynchronous functions only). */
  signal?: AbortSignal;
}

export type SyncLockOptions = Omit<LockOptions, "signal">;

/** A hold of a lock: `<path>.lock`, kept under a kernel lock while held. */
export declare class Lock {
  private constructor();
  /** The path given to `lock`. */
  readonly path: string;
  /** The lock file. */
  readonly lockPath: string;
  /** Whether this hold is still in force. */
  readonly held: boolean;
  /** Throws `LockCompromisedError` when this hold is no longer in force. */
  assertOwned(): void;
  /** Ends the hold and removes its file; calling it again does nothing. */
  release(): Promise<void>;
  releaseSync(): void;
  [Symbol.asyncDispose](): Promise<void>;
  [Symbol.dispose](): void;
}

export interface LockHolder {
  /** The holder's pid, as its lock file says (null when it names none). */
  pid: number | null;
  alive: boolean;
  /** The holder as messages show it (`pid=12 alive=true ageMs=5`). */
  owner: string;
}

/** The lock stayed busy for the whole wait. */
export declare class LockBusyError extends Error {
  readonly code: "ELOCKED";
  readonly path: string;
  readonly lockPath: string;
  readonly timeoutMs: number;
  readonly holder: LockHolder & { thisProcess: boolean };
}

/** The holder is alive but past its own `maxHoldMs`: reported, never removed. */
export declare class LockStaleError extends Error {
  readonly code: "ESTALELOCK";
  readonly path: string;
  readonly lockPath: string;
  readonly reasons: string[];
  readonly holder: LockHolder;
}

/** A hold is no longer in force. */
export declare class LockCompromisedError extends Error {
  readonly code: "ECOMPROMISED";
  readonly path: string;
  readonly lockPath: string;
}

export declare function lock(path: string, options?: LockOptions): Promise<Lock>;
/** One try: the lock, or `null` when it is busy. */
export declare function tryLock(path: string, options?: Omit<LockOptions, "timeoutMs">): Promise<Lock | null>;
export declare function withLock<T>(path: string, fn: (lock: Lock) => T | Promise<T>, options?: LockOptions): Promise<T>;
/** `lock`, blocking this thread while it waits. */
export declare function lockSync(path: string, options?: SyncLockOptions): Lock;
export declare function tryLockSync(path: string, options?: Omit<SyncLockOptions, "timeoutMs">): Lock | null;
export declare function withLockSync<T>(path: string, fn: (lock: Lock) => T, options?: SyncLockOptions): T;
/** Opt-in: release every hold of this process on exit and on SIGINT, SIGTERM, SIGQUIT, SIGABRT. */
export declare function releaseOnExit(): void;

export declare const DEFAULTS: Readonly<{ timeoutMs: number; maxHoldMs: number; foreign: ForeignRule }>;
