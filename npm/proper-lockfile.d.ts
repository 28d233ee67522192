// Types of session-write-lock/proper-lockfile: the API of proper-lockfile 4 (docs/PROTOCOL.md,
// "proper-lockfile's lock").

declare function lock(file: string, options?: properLockfile.LockOptions): Promise<() => Promise<void>>;
declare function unlock(file: string, options?: properLockfile.UnlockOptions): Promise<void>;
declare function check(file: string, options?: properLockfile.CheckOptions): Promise<boolean>;
declare function lockSync(file: string, options?: properLockfile.LockOptions): () => void;
declare function unlockSync(file: string, options?: properLockfile.UnlockOptions): void;
declare function checkSync(file: string, options?: properLockfile.CheckOptions): boolean;

/** The module is `lock` itself, as proper-lockfile's, with the other functions as properties. */
declare const properLockfile: typeof lock & {
  /** Takes the lock of `file`; resolves to the function that releases it. */
  lock: typeof lock;
  /** Releases a lock this process took of `file` (ENOTACQUIRED otherwise). */
  unlock: typeof unlock;
  /** Whether `file` is locked (by a live holder, or a proper-lockfile holder not yet stale). */
  check: typeof check;
  /** The blocking twin of `lock`: one attempt, `retries` refused (ESYNC). */
  lockSync: typeof lockSync;
  unlockSync: typeof unlockSync;
  checkSync: typeof checkSync;
  default: typeof lock;
};
declare namespace properLockfile {
  /** The `retry` package's options, as proper-lockfile takes them. */
  export interface RetryOptions {
    /** Retries after the first attempt (default 10 when an object is given). */
    retries?: number;
    /** Growth of each wait (default 2). */
    factor?: number;
    /** The first wait in milliseconds (default 1000). */
    minTimeout?: number;
    /** The longest wait in milliseconds (default Infinity). */
    maxTimeout?: number;
    /** Multiplies each wait by a random factor in [1, 2). */
    randomize?: boolean;
    /** Retries forever, starting the schedule again when it runs out. */
    forever?: boolean;
    /** The waits do not keep the process alive. */
    unref?: boolean;
    /** Gives up once this many milliseconds have passed since the first attempt. */
    maxRetryTime?: number;
  }

  /** The file system proper-lockfile would use; here only `realpath` (and `statSync`) are called. */
  export type FileSystem = Pick<typeof import("node:fs"), "realpath" | "realpathSync" | "statSync">;

  /** What `onCompromised` receives: an `Error` with `code` `"ECOMPROMISED"`. */
  export interface LockError extends Error {
    code: "ELOCKED" | "ENOTACQUIRED" | "ERELEASED" | "ECOMPROMISED" | "ESYNC" | string;
    file?: string;
  }

  export interface LockOptions {
    /** A proper-lockfile lock directory older than this is stale (ms, default 10000, at least 2000). */
    stale?: number;
    /** How often the held directory's mtime is refreshed (ms, default stale / 2, within [1000, stale / 2]). */
    update?: number;
    /** How often to try again while the lock is held (default 0: fail at once with ELOCKED). */
    retries?: number | RetryOptions;
    /** Resolve symlinks with `fs.realpath` (default true: the file must exist). */
    realpath?: boolean;
    /** The file system `realpath` is taken from (default node:fs). */
    fs?: FileSystem;
    /** Called when the lock directory was removed or replaced (default: throws the error). */
    onCompromised?: (error: LockError) => unknown;
    /** The lock directory (default `<file>.lock`). */
    lockfilePath?: string;
  }

  export interface UnlockOptions {
    realpath?: boolean;
    fs?: FileSystem;
    lockfilePath?: string;
  }

  export interface CheckOptions {
    stale?: number;
    realpath?: boolean;
    fs?: FileSystem;
    lockfilePath?: string;
  }
}

export = properLockfile;
