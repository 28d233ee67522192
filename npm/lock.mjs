// The ES module entry of session-write-lock/lock: the same functions as the CommonJS one.
import general from "./lock.js";

export const {
  lock,
  tryLock,
  withLock,
  lockSync,
  tryLockSync,
  withLockSync,
  releaseOnExit,
  Lock,
  LockBusyError,
  LockStaleError,
  LockCompromisedError,
  DEFAULTS,
} = general;
