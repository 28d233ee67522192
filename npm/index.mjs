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
  resolveSessionLockMaxHoldFromTimeout,
  setSessionWriteLockLogger,
  SessionWriteLockError,
} = lock;

export default lock;
