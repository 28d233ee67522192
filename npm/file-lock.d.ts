// Types of session-write-lock/file-lock: the public API of @openclaw/fs-safe/file-lock 0.21
// (docs/PROTOCOL.md, "fs-safe's file lock").

export type FileLockRetryOptions = {
  /** Retries after the first attempt; unlimited when omitted. */
  retries?: number;
  factor?: number;
  /** Milliseconds; default 50. */
  minTimeout?: number;
  /** Milliseconds; default 1000. */
  maxTimeout?: number;
  randomize?: boolean;
};

export type FileLockStaleRecovery = "fail-closed" | "remove-if-unchanged";

export type SidecarLockCompromisedInfo = {
  lockPath: string;
  normalizedTargetPath: string;
};

export type SidecarLockReclaimParams<Held extends boolean = boolean> = {
  lockPath: string;
  normalizedTargetPath: string;
  payload: unknown;
  staleMs: number;
  nowMs: number;
  heldByThisProcess: Held;
};

export type SidecarLockStaleSnapshot = {
  lockPath: string;
  normalizedTargetPath: string;
  /** The lock file's exact text, token line included. */
  raw: string;
  payload: unknown;
};

type FileLockCommonOptions = {
  /** Explicit lock file; default `<realpath(parent)>/<name>.lock`. */
  lockPath?: string;
  /** Overall deadline; none (wait forever) when omitted; `0` is one attempt. */
  timeoutMs?: number;
  retry?: FileLockRetryOptions;
  /** Default `"fail-closed"`. */
  staleRecovery?: FileLockStaleRecovery;
  /** Equal owners in one manager share one lock (a reference count). */
  reentrantOwner?: string;
  parsePayload?: (raw: string) => unknown;
  onCompromised?: (info: SidecarLockCompromisedInfo) => void;
  compromiseCheckIntervalMs?: number;
  /** Default 30 000; only the default `shouldReclaim` reads it. */
  staleMs?: number;
};

export type FileLockAcquireOptions<TPayload extends Record<string, unknown>> = FileLockCommonOptions & {
  /** Called on every attempt; its object is the lock file's JSON. */
  payload: () => TPayload | Promise<TPayload>;
  shouldReclaim?: (params: SidecarLockReclaimParams) => boolean | Promise<boolean>;
  /** The second approval, given the exact bytes; required to remove a stale lock. */
  shouldRemoveStaleLock?: (snapshot: SidecarLockStaleSnapshot) => boolean | Promise<boolean>;
  /** In memory only (`heldEntries()`). */
  metadata?: Record<string, unknown>;
  retainOnExit?: boolean;
  managerKey?: string;
};

export type FileLockSyncAcquireOptions<TPayload extends Record<string, unknown>> = FileLockCommonOptions & {
  payload: () => TPayload;
  shouldReclaim?: (params: SidecarLockReclaimParams<false>) => boolean;
  shouldRemoveStaleLock?: (snapshot: SidecarLockStaleSnapshot) => boolean;
};

export type FileLockHandle = {
  lockPath: string;
  normalizedTargetPath: string;
  verifyStillHeld: () => Promise<boolean>;
  release: () => Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

export type FileLockSyncHandle = {
  lockPath: string;
  normalizedTargetPath: string;
  verifyStillHeld(): boolean;
  release(): void;
  [Symbol.dispose](): void;
};

export type FileLockHeldEntry = {
  normalizedTargetPath: string;
  lockPath: string;
  acquiredAt: number;
  metadata: Record<string, unknown>;
  forceRelease: () => Promise<boolean>;
};

export type FileLockManager = {
  acquire<TPayload extends Record<string, unknown>>(
    targetPath: string,
    options: FileLockAcquireOptions<TPayload>,
  ): Promise<FileLockHandle>;
  withLock<T, TPayload extends Record<string, unknown>>(
    targetPath: string,
    options: FileLockAcquireOptions<TPayload>,
    fn: () => Promise<T>,
  ): Promise<T>;
  drain(): Promise<void>;
  reset(): void;
  heldEntries(): FileLockHeldEntry[];
};

export declare function acquireFileLock<TPayload extends Record<string, unknown>>(
  targetPath: string,
  options: FileLockAcquireOptions<TPayload>,
): Promise<FileLockHandle>;
export declare function withFileLock<T, TPayload extends Record<string, unknown>>(
  targetPath: string,
  options: FileLockAcquireOptions<TPayload>,
  fn: () => Promise<T>,
): Promise<T>;
export declare function createFileLockManager(key: string): FileLockManager;
export declare function drainFileLockManagerForTest(targetPath: string, managerKey?: string): Promise<void>;
export declare function resetFileLockManagerForTest(targetPath: string, managerKey?: string): void;
export declare function acquireFileLockSync<TPayload extends Record<string, unknown>>(
  targetPath: string,
  options: FileLockSyncAcquireOptions<TPayload>,
): FileLockSyncHandle;
export declare function withFileLockSync<T, TPayload extends Record<string, unknown>>(
  targetPath: string,
  options: FileLockSyncAcquireOptions<TPayload>,
  fn: () => T,
): T;
