"use strict";
// session-write-lock/proper-lockfile: the API of proper-lockfile 4 on its on-disk protocol (the
// lock of a file is the directory `<file>.lock`, kept fresh by its mtime), so that processes
// using either exclude each other. Ours are marked (S_ISVTX) and flocked while held, so our
// waiters see a dead holder at once, and their mtime is refreshed by a native thread, so a
// stalled event loop never compromises them. See docs/PROTOCOL.md, "proper-lockfile's lock".

const nodeFs = require("node:fs");
const path = require("node:path");
const native = require("./native.js");
const { retrySchedule, mainError } = require("./proper-lockfile-retries.js");

/** How often a waiter looks whether the holder died, between proper-lockfile's retries. */
const WATCH_MS = 5;
/** What a look may say that makes an attempt worth making at once. */
const TAKEABLE = new Set(["free", "dead", "stale"]);

// Held locks by canonical file path, as proper-lockfile keeps them: only a lock this module
// took in this process can be unlocked by file name.
const locks = new Map();

const codedError = (message, code, extra) => Object.assign(new Error(message), { code, ...extra });

/** proper-lockfile's defaults and clamps: stale ≥ 2000 ms, update within [1000, stale / 2]. */
function lockOptions(options) {
  const resolved = {
    stale: 10000,
    update: null,
    realpath: true,
    retries: 0,
    fs: nodeFs,
    onCompromised: (error) => {
      throw error;
    },
    ...options,
  };
  resolved.stale = Math.max(resolved.stale || 0, 2000);
  resolved.update = resolved.update == null ? resolved.stale / 2 : resolved.update || 0;
  resolved.update = Math.max(Math.min(resolved.update, resolved.stale / 2), 1000);
  return resolved;
}

const lockfilePathOf = (file, options) => options.lockfilePath || `${file}.lock`;

function canonical(file, options) {
  if (!options.realpath) return Promise.resolve(path.resolve(file));
  return new Promise((resolve, reject) => {
    options.fs.realpath(file, (error, resolved) => (error ? reject(error) : resolve(resolved)));
  });
}

const canonicalSync = (file, options) => (options.realpath ? options.fs.realpathSync(file) : path.resolve(file));

/** The native directory lock, which is Unix-only so far: say so, not "not a function". */
function dirLockNative() {
  if (typeof native.dirLockAcquire !== "function") {
    throw new Error(`session-write-lock/proper-lockfile is not available on ${process.platform} yet`);
  }
  return native;
}

/** One attempt: the held entry, or an ELOCKED error thrown. */
function attempt(file, options) {
  const lockfilePath = lockfilePathOf(file, options);
  const held = dirLockNative().dirLockAcquire(lockfilePath, options.stale, options.update);
  if (!held) throw codedError("Lock file is already being held", "ELOCKED", { file });
  const entry = { native: held, lockfilePath, options, released: false };
  entry.monitor = setInterval(() => {
    if (!entry.released && entry.native.compromised()) compromised(file, entry);
  }, options.update);
  entry.monitor.unref();
  locks.set(file, entry);
  registerExitCleanup();
  return entry;
}

/** The directory was removed or replaced behind our back: the hold is over; tell the caller. */
function compromised(file, entry) {
  endEntry(file, entry);
  try {
    entry.native.release(); // leaves someone else's directory alone; stops the refresher
  } catch {}
  const error = codedError("Lock directory was removed or replaced by another process", "ECOMPROMISED", {
    file,
    lockfilePath: entry.lockfilePath,
  });
  entry.options.onCompromised(error);
}

function endEntry(file, entry) {
  entry.released = true;
  clearInterval(entry.monitor);
  if (locks.get(file) === entry) locks.delete(file);
}

/**
 * Waits `ms`, or less once a look says the lock can be taken: every WATCH_MS (a dead holder of
 * ours, or a directory gone stale), and at once when the lock directory's name changes in its
 * parent (a release's `rmdir`, seen through fs.watch where the platform has it).
 */
function waitOrWake(ms, lockfilePath, options, unref) {
  return new Promise((resolve) => {
    const look = () => {
      let seen = "alive";
      try {
        seen = dirLockNative().dirLockLook(lockfilePath, options.stale);
      } catch {}
      if (TAKEABLE.has(seen)) done();
    };
    const done = () => {
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (unref) timer.unref();
    const poll = setInterval(look, WATCH_MS);
    poll.unref();
    const name = path.basename(lockfilePath);
    let watcher = null;
    try {
      watcher = nodeFs.watch(path.dirname(lockfilePath), { persistent: false }, (_, changed) => {
        if (changed === null || changed === name) look();
      });
      watcher.on("error", () => watcher.close()); // the polling goes on
    } catch {}
  });
}

/** Attempts with proper-lockfile's retry schedule, waking early when the holder is gone. */
async function acquireWithRetries(file, options) {
  const schedule = retrySchedule(options.retries);
  let timeouts = schedule.timeouts.slice();
  const errors = [];
  const started = Date.now();
  for (;;) {
    try {
      return attempt(file, options);
    } catch (error) {
      if (Date.now() - started >= schedule.maxRetryTime) {
        errors.unshift(new Error("RetryOperation timeout occurred"));
        throw mainError(errors);
      }
      errors.push(error);
      if (timeouts.length === 0 && schedule.forever) {
        errors.splice(0, errors.length - 1); // forever keeps only the latest error
        timeouts = schedule.timeouts.slice();
      }
      const delay = timeouts.shift();
      if (delay === undefined) throw mainError(errors);
      await waitOrWake(delay, lockfilePathOf(file, options), options, schedule.unref);
    }
  }
}

function releaseOf(file, entry, sync) {
  const release = () => {
    if (entry.released) throw codedError("Lock is already released", "ERELEASED");
    releaseEntry(file, entry);
  };
  return sync ? release : async () => release();
}

function releaseEntry(file, entry) {
  endEntry(file, entry);
  entry.native.release();
}

async function lock(file, options) {
  const resolved = lockOptions(options);
  const canonicalFile = await canonical(file, resolved);
  const entry = await acquireWithRetries(canonicalFile, resolved);
  return releaseOf(canonicalFile, entry, false);
}

function notAcquired() {
  return codedError("Lock is not acquired/owned by you", "ENOTACQUIRED");
}

async function unlock(file, options) {
  const canonicalFile = await canonical(file, { fs: nodeFs, realpath: true, ...options });
  const entry = locks.get(canonicalFile);
  if (!entry) throw notAcquired();
  releaseEntry(canonicalFile, entry);
}

/** Whether the lock is held: by a live holder of ours, or one of proper-lockfile's not yet stale. */
function checkSeen(seen, lockfilePath, options, statSync) {
  if (seen === "alive" || seen === "fresh") return true;
  if (seen !== "not-dir") return false;
  // Not a directory: proper-lockfile judges whatever is there by its mtime.
  return statSync(lockfilePath).mtime.getTime() >= Date.now() - options.stale;
}

function checkOptions(options) {
  const resolved = { stale: 10000, realpath: true, fs: nodeFs, ...options };
  resolved.stale = Math.max(resolved.stale || 0, 2000);
  return resolved;
}

async function check(file, options) {
  const resolved = checkOptions(options);
  const lockfilePath = lockfilePathOf(await canonical(file, resolved), resolved);
  const seen = dirLockNative().dirLockLook(lockfilePath, resolved.stale);
  return checkSeen(seen, lockfilePath, resolved, (p) => resolved.fs.statSync(p));
}

/** proper-lockfile's sync API cannot wait: retries are refused (ESYNC). */
function syncOptions(options) {
  const retries = options?.retries;
  if ((typeof retries === "number" && retries > 0) || (typeof retries?.retries === "number" && retries.retries > 0)) {
    throw codedError("Cannot use retries with the sync api", "ESYNC");
  }
  return { ...options };
}

function lockSync(file, options) {
  const resolved = lockOptions(syncOptions(options));
  const canonicalFile = canonicalSync(file, resolved);
  return releaseOf(canonicalFile, attempt(canonicalFile, resolved), true);
}

function unlockSync(file, options) {
  const resolved = { fs: nodeFs, realpath: true, ...syncOptions(options) };
  const canonicalFile = canonicalSync(file, resolved);
  const entry = locks.get(canonicalFile);
  if (!entry) throw notAcquired();
  releaseEntry(canonicalFile, entry);
}

function checkSync(file, options) {
  const resolved = checkOptions(syncOptions(options));
  const lockfilePath = lockfilePathOf(canonicalSync(file, resolved), resolved);
  const seen = dirLockNative().dirLockLook(lockfilePath, resolved.stale);
  return checkSeen(seen, lockfilePath, resolved, (p) => resolved.fs.statSync(p));
}

// On a normal exit our directories are removed, as proper-lockfile removes its own. A signal or
// a crash needs nothing: the kernel lets the flock go and our waiters take the lock at once
// (proper-lockfile's waiters after `stale`).
let exitCleanup = false;
function registerExitCleanup() {
  if (exitCleanup) return;
  exitCleanup = true;
  process.on("exit", () => {
    for (const [file, entry] of [...locks]) {
      try {
        releaseEntry(file, entry);
      } catch {}
    }
  });
}

module.exports = lock;
module.exports.lock = lock;
module.exports.unlock = unlock;
module.exports.check = check;
module.exports.lockSync = lockSync;
module.exports.unlockSync = unlockSync;
module.exports.checkSync = checkSync;
// For `import lockfile from` in TypeScript compiled to CommonJS, as in ES modules.
module.exports.default = lock;
