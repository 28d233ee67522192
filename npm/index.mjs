// The ES module entry point: the same objects as the CommonJS one, under the same names.
import lock from "./index.js";

export const {
  acquireSessionWriteLock,
  releaseAllSessionWriteLocks,
  releaseAllSessionWriteLocksSync,
  resetInstanceNonce,
  getInstanceNonce,
  cleanStaleLockFiles,
  inspectSessionWriteLock,
  listHeldSessionWriteLocks,
  resolveSessionLockMaxHoldFromTimeout,
  resolveSessionWriteLockAcquireTimeoutMs,
  resolveSessionWriteLockStaleMs,
  resolveSessionWriteLockOptions,
  setSessionWriteLockLogger,
  SessionWriteLockTimeoutError,
  SessionWriteLockStaleError,
  SessionWriteLockError,
  isSessionWriteLockTimeoutError,
  isSessionWriteLockStaleError,
  isSessionWriteLockAcquireError,
  isSessionWriteLockBusyWithActiveRun,
  drainSessionWriteLockStateForTest,
  resetSessionWriteLockStateForTest,
  testing,
  __testing,
} = lock;

export default lock;
