"use strict";
// session-write-lock/file-lock: the public API of @openclaw/fs-safe's file lock (0.21), on the
// same files (pretty JSON payload, ownership-token line, mode 0600), so that our processes and
// fs-safe's share lock directories. Our holders also keep a flock on the file, so their death
// is proven by the kernel, and an abandoned `<lock>.reclaim` guard never wedges an acquire.
// See docs/PROTOCOL.md, "fs-safe's file lock".

const { acquireAsync, acquireSync } = require("./file-lock-attempts.js");
const { resolveOptions, resolvePaths } = require("./file-lock-options.js");
const { suppressed: suppressedError } = require("./suppressed.js");

const asyncDispose = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");
const dispose = Symbol.dispose ?? Symbol.for("Symbol.dispose");

// Manager state by key, process-wide (a second copy of this package shares it); the sync API
// has its own registry, as fs-safe's has.
const registry = (name) => (globalThis[Symbol.for(name)] ??= new Map());
const asyncManagers = registry("sessionWriteLock.fileLockManagers");
const syncManagers = registry("sessionWriteLock.syncFileLockManagers");

function stateOf(managers, key) {
  let state = managers.get(key);
  if (!state) {
    state = { held: new Map(), admissions: new Map(), guards: new Set() };
    managers.set(key, state);
  }
  return state;
}

/** Ends a hold (one count of it, or all with `force`); the entry stays if its file could not be removed. */
function endHold(state, entry, force) {
  if (entry.ended) return false;
  entry.refCount = force ? 0 : entry.refCount - 1;
  if (entry.refCount > 0) return true;
  try {
    entry.native.release();
  } catch (error) {
    entry.refCount = 1;
    throw error;
  }
  entry.ended = true;
  clearInterval(entry.monitor);
  if (state.held.get(entry.normalizedTargetPath) === entry) state.held.delete(entry.normalizedTargetPath);
  return true;
}

function handleOf(state, entry, sync) {
  let released = false;
  const release = () => {
    if (released) return;
    endHold(state, entry, false);
    released = true;
  };
  const verify = () => !entry.ended && entry.native.stillHeld();
  const { lockPath, normalizedTargetPath } = entry;
  if (sync) return { lockPath, normalizedTargetPath, verifyStillHeld: verify, release, [dispose]: release };
  const releaseAsync = async () => release();
  return {
    lockPath,
    normalizedTargetPath,
    verifyStillHeld: async () => verify(),
    release: releaseAsync,
    [asyncDispose]: releaseAsync,
  };
}

/** Checks, every `compromiseCheckIntervalMs`, that the file is still ours; tells `onCompromised` once. */
function monitor(entry, options) {
  const interval = options.compromiseCheckIntervalMs;
  if (!interval || typeof options.onCompromised !== "function") return undefined;
  const timer = setInterval(() => {
    let held = false;
    try {
      held = !entry.ended && entry.native.stillHeld();
    } catch {}
    if (held || entry.ended) return;
    clearInterval(timer);
    options.onCompromised({ lockPath: entry.lockPath, normalizedTargetPath: entry.normalizedTargetPath });
  }, interval);
  timer.unref();
  return timer;
}

function acquireIn(managers, key, targetPath, rawOptions, sync) {
  const options = resolveOptions(rawOptions);
  const { normalizedTargetPath, lockPath } = resolvePaths(targetPath, options.lockPath);
  const state = stateOf(managers, key);
  registerExitCleanup();
  const ctx = {
    state,
    normalizedTargetPath,
    lockPath,
    options,
    sync,
    join(entry) {
      entry.refCount += 1;
      entry.retainOnExit ||= options.retainOnExit === true;
      return handleOf(state, entry, sync);
    },
    register(created) {
      const entry = {
        native: created,
        refCount: 1,
        ended: false,
        reentrantOwner: options.reentrantOwner,
        normalizedTargetPath,
        lockPath,
        acquiredAt: Date.now(),
        metadata: options.metadata ?? {},
        retainOnExit: options.retainOnExit === true,
      };
      entry.monitor = monitor(entry, options);
      state.held.set(normalizedTargetPath, entry);
      return handleOf(state, entry, sync);
    },
  };
  return sync ? acquireSync(ctx) : acquireAsync(ctx);
}

/** The error `withLock` throws when both the callback and the release failed. */
const suppressed = (releaseError, callbackError) =>
  suppressedError(releaseError, callbackError, "file lock release failed after the callback threw");

function createFileLockManager(key) {
  const state = stateOf(asyncManagers, key);
  const acquire = (targetPath, options) => Promise.resolve().then(() => acquireIn(asyncManagers, key, targetPath, options, false));
  return {
    acquire,
    async withLock(targetPath, options, fn) {
      const handle = await acquire(targetPath, options);
      let result;
      try {
        result = await fn();
      } catch (error) {
        try {
          await handle.release();
        } catch (releaseError) {
          throw suppressed(releaseError, error);
        }
        throw error;
      }
      await handle.release();
      return result;
    },
    async drain() {
      for (const entry of [...state.held.values()]) {
        try {
          endHold(state, entry, true);
        } catch {}
      }
    },
    reset() {
      for (const entry of [...state.held.values()]) {
        try {
          endHold(state, entry, true);
        } catch {}
      }
      state.held.clear();
      state.admissions.clear();
      removeGuards(state);
    },
    heldEntries() {
      return [...state.held.values()].map((entry) => ({
        normalizedTargetPath: entry.normalizedTargetPath,
        lockPath: entry.lockPath,
        acquiredAt: entry.acquiredAt,
        metadata: entry.metadata,
        forceRelease: async () => endHold(state, entry, true),
      }));
    },
  };
}

function removeGuards(state) {
  for (const guard of [...state.guards]) {
    state.guards.delete(guard);
    try {
      guard.remove();
    } catch {}
  }
}

// On a normal exit, every hold not retained is released (only files still exactly ours are
// removed) and our reclaim guards go. Registered once per process, like fs-safe's.
const EXIT_KEY = Symbol.for("sessionWriteLock.fileLockExitCleanup");
function registerExitCleanup() {
  if (globalThis[EXIT_KEY]) return;
  globalThis[EXIT_KEY] = true;
  process.on("exit", () => {
    for (const state of [...asyncManagers.values(), ...syncManagers.values()]) {
      for (const entry of [...state.held.values()]) {
        if (entry.retainOnExit) continue;
        try {
          endHold(state, entry, true);
        } catch {}
      }
      removeGuards(state);
    }
  });
}

const managerKey = (targetPath, key) => key ?? `fs-safe.file-lock:${targetPath}`;

async function acquireFileLock(targetPath, options) {
  return await createFileLockManager(managerKey(targetPath, options?.managerKey)).acquire(targetPath, options);
}

async function withFileLock(targetPath, options, fn) {
  return await createFileLockManager(managerKey(targetPath, options?.managerKey)).withLock(targetPath, options, fn);
}

async function drainFileLockManagerForTest(targetPath, key) {
  await createFileLockManager(managerKey(targetPath, key)).drain();
}

function resetFileLockManagerForTest(targetPath, key) {
  createFileLockManager(managerKey(targetPath, key)).reset();
}

/** The blocking twin: waits with Atomics.wait; hooks must be synchronous. */
function acquireFileLockSync(targetPath, options) {
  return acquireIn(syncManagers, "sync", targetPath, options, true);
}

function withFileLockSync(targetPath, options, fn) {
  const handle = acquireFileLockSync(targetPath, options);
  let result;
  try {
    result = fn();
  } catch (error) {
    try {
      handle.release();
    } catch (releaseError) {
      throw suppressed(releaseError, error);
    }
    throw error;
  }
  handle.release();
  return result;
}

module.exports = {
  acquireFileLock,
  withFileLock,
  createFileLockManager,
  drainFileLockManagerForTest,
  resetFileLockManagerForTest,
  acquireFileLockSync,
  withFileLockSync,
};
