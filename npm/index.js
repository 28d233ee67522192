"use strict";
// session-write-lock for Node (DESIGN §5): the native addon does the locking; this file only
// gives it the shape of the TypeScript module it replaces (promises, handles that support
// `await using`, SessionWriteLockError) and wires up process cleanup.

const native = require("./native.js");
const { registerProcessCleanup } = require("./cleanup.js");

// Node 20 may predate Symbol.asyncDispose; TypeScript's downlevel helpers use this fallback.
const asyncDispose = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");

/** The lock stayed busy until the timeout. */
class SessionWriteLockError extends Error {
  constructor(message, { timeoutMs, lockPath, owner }) {
    super(message);
    this.name = "SessionWriteLockError";
    this.reason = "session_busy";
    this.timeoutMs = timeoutMs;
    this.lockPath = lockPath;
    this.owner = owner;
  }
}

/** The addon reports "busy" as a plain Error with the details; callers get the class. */
function publicError(error) {
  return error?.reason === "session_busy" ? new SessionWriteLockError(error.message, error) : error;
}

/** What acquireSessionWriteLock resolves to. */
class SessionWriteLock {
  #native;

  constructor(nativeLock) {
    this.#native = nativeLock;
    this.lockPath = nativeLock.lockPath;
  }

  async release() {
    this.#native.release();
  }

  [asyncDispose]() {
    return this.release();
  }
}

async function acquireSessionWriteLock(params) {
  registerProcessCleanup(native.releaseAllSessionWriteLocksSync);
  try {
    // A free lock comes back at once as a lock; a busy one as a promise the lock service settles.
    return new SessionWriteLock(await native.acquire(params));
  } catch (error) {
    throw publicError(error);
  }
}

async function releaseAllSessionWriteLocks() {
  return native.releaseAllSessionWriteLocksSync();
}

async function cleanStaleLockFiles(params) {
  return native.cleanStaleLockFiles(params);
}

async function inspectSessionWriteLock(sessionFile) {
  return native.inspectSessionWriteLock(sessionFile);
}

module.exports = {
  acquireSessionWriteLock,
  releaseAllSessionWriteLocks,
  releaseAllSessionWriteLocksSync: native.releaseAllSessionWriteLocksSync,
  resetInstanceNonce: native.resetInstanceNonce,
  getInstanceNonce: native.getInstanceNonce,
  cleanStaleLockFiles,
  inspectSessionWriteLock,
  resolveSessionLockMaxHoldFromTimeout: native.resolveSessionLockMaxHoldFromTimeout,
  setSessionWriteLockLogger: native.setSessionWriteLockLogger,
  SessionWriteLockError,
};
