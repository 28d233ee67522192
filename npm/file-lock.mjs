// The ES module entry of session-write-lock/file-lock: the same functions as the CommonJS one.
import fileLock from "./file-lock.js";

export const {
  acquireFileLock,
  withFileLock,
  createFileLockManager,
  drainFileLockManagerForTest,
  resetFileLockManagerForTest,
  acquireFileLockSync,
  withFileLockSync,
} = fileLock;
