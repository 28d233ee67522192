"use strict";
// session-write-lock/lock: the general face (docs/PROTOCOL.md, "The general Node face"). The
// same engine as the gateway's API, with the defaults a general user expects: wait 60 s (0 =
// one try), no watchdog unless `maxHoldMs`, no process listeners unless `releaseOnExit()`,
// and lock files of other programs kept unless `foreign` opts into a rule for them.

const native = require("./native.js");
const { abortableWait, abortError, checkSignal } = require("./abort.js");
const { suppressed } = require("./suppressed.js");
const { registerProcessCleanup } = require("./cleanup.js");

const asyncDispose = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");
const dispose = Symbol.dispose ?? Symbol.for("Symbol.dispose");

/** The face's defaults, passed to the engine explicitly (it has the gateway's own). */
const DEFAULTS = Object.freeze({ timeoutMs: 60_000, maxHoldMs: Infinity, foreign: "keep" });
/** How often a hold with `onLost` is checked: at most this, sooner under a short `maxHoldMs`. */
const LOST_CHECK_MS = 1_000;

const printable = (text) => native.printable(String(text));

/** The lock stayed busy for the whole wait (`timeoutMs`); `holder` says who has it. */
class LockBusyError extends Error {
  constructor({ path, lockPath, timeoutMs, owner, ownerPid, ownerPidAlive, heldHere }) {
    const waited = timeoutMs === 0 ? "one try" : `waited ${timeoutMs} ms`;
    super(`lock busy: ${printable(lockPath)} is held by ${printable(owner)} (${waited})`);
    this.name = "LockBusyError";
    this.code = "ELOCKED";
    this.path = path;
    this.lockPath = lockPath;
    this.timeoutMs = timeoutMs;
    this.holder = { pid: ownerPid ?? null, alive: ownerPidAlive === true, owner, thisProcess: Boolean(heldHere) };
  }
}

/** The holder is alive but past its own `maxHoldMs` (its watchdog should have ended it): reported, never removed. */
class LockStaleError extends Error {
  constructor({ path, lockPath, owner, ownerPid, ownerPidAlive, staleReasons }) {
    const reasons = [...(staleReasons ?? [])];
    super(`lock stale (${reasons.join(", ")}): ${printable(lockPath)} is held by ${printable(owner)}`);
    this.name = "LockStaleError";
    this.code = "ESTALELOCK";
    this.path = path;
    this.lockPath = lockPath;
    this.reasons = reasons;
    this.holder = { pid: ownerPid ?? null, alive: ownerPidAlive === true, owner };
  }
}

/** A hold is no longer in force: released, ended by its `maxHoldMs`, or its file removed or replaced. */
class LockCompromisedError extends Error {
  constructor({ path, lockPath }) {
    super(`lock lost: ${printable(lockPath)} is no longer held by this hold`);
    this.name = "LockCompromisedError";
    this.code = "ECOMPROMISED";
    this.path = path;
    this.lockPath = lockPath;
  }
}

/** The engine's errors as this face's classes; TypeError, RangeError and I/O errors pass through. */
function publicError(error, path) {
  if (error?.code === "SESSION_BUSY") return new LockBusyError({ ...error, path });
  if (error?.code !== "SESSION_STALE") return error;
  if (error.staleReasons?.includes("lease-lost")) return new LockCompromisedError({ ...error, path });
  return new LockStaleError({ ...error, path });
}

function typeError(message) {
  return Object.assign(new TypeError(message), { code: "ERR_INVALID_ARG_TYPE" });
}

/** `options`, checked to be an object (or undefined). */
function optionsObject(options) {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw typeError(`invalid options: must be an object, got ${options === null ? "null" : typeof options}`);
  }
  return options ?? {};
}

/** The options of one try. */
const oneTry = (options) => ({ ...optionsObject(options), timeoutMs: 0 });

/** The options as the engine takes them, with this face's defaults; the values are checked natively. */
function engineParams(path, options) {
  const o = optionsObject(options);
  if (o.onLost !== undefined && typeof o.onLost !== "function") {
    throw typeError(`invalid onLost: must be a function, got ${typeof o.onLost}`);
  }
  checkSignal(o.signal);
  return {
    path,
    timeoutMs: o.timeoutMs ?? DEFAULTS.timeoutMs,
    staleMs: o.staleMs,
    maxHoldMs: o.maxHoldMs ?? DEFAULTS.maxHoldMs,
    foreign: o.foreign ?? DEFAULTS.foreign,
    owner: o.owner,
  };
}

/** A hold of a lock. `release()` ends it (idempotent); `assertOwned()` throws once it is lost. */
class Lock {
  #native;
  #monitor;
  #released = false;

  constructor(nativeLock, path, { onLost, maxHoldMs }) {
    this.#native = nativeLock;
    this.path = path;
    this.lockPath = nativeLock.lockPath;
    if (onLost) this.#watch(onLost, maxHoldMs);
  }

  /** Tells `onLost` once, from a timer that does not keep the process alive. */
  #watch(onLost, maxHoldMs) {
    const every = Math.max(10, Math.min(LOST_CHECK_MS, Number.isFinite(maxHoldMs) ? maxHoldMs / 2 : LOST_CHECK_MS));
    this.#monitor = setInterval(() => {
      const lost = this.#lost();
      if (!lost) return;
      clearInterval(this.#monitor);
      if (!this.#released) onLost(lost);
    }, every);
    this.#monitor.unref();
  }

  /** The error of a hold no longer in force, or null. */
  #lost() {
    try {
      this.#native.assertOwned();
      return null;
    } catch (error) {
      return publicError(error, this.path);
    }
  }

  /** Whether this hold is still in force (its file is still there and still ours). */
  get held() {
    return !this.#released && this.#lost() === null;
  }

  /** Throws `LockCompromisedError` when this hold is no longer in force. */
  assertOwned() {
    if (this.#released) throw new LockCompromisedError(this);
    const lost = this.#lost();
    if (lost) throw lost;
  }

  /** Ends the hold and removes its file; a hold already ended (or lost) is left as it is. */
  releaseSync() {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#monitor);
    this.#native.release();
  }

  async release() {
    this.releaseSync();
  }

  [asyncDispose]() {
    return this.release();
  }

  [dispose]() {
    this.releaseSync();
  }
}

/** Waits for the lock of `path` (up to `timeoutMs`, default 60 s; 0 = one try). */
async function lock(path, options) {
  const params = engineParams(path, options);
  const signal = options?.signal;
  if (signal?.aborted) throw abortError(signal);
  const cancel = signal ? new native.WaitCancel() : undefined;
  let granted;
  try {
    granted = native.lock(params, cancel);
    if (granted instanceof Promise) granted = await (signal ? abortableWait(granted, signal, cancel) : granted);
  } catch (error) {
    throw publicError(error, path);
  }
  return new Lock(granted, path, { onLost: options?.onLost, maxHoldMs: params.maxHoldMs });
}

/** One try: the lock, or `null` when it is busy. Other errors (stale, I/O, bad options) throw. */
async function tryLock(path, options) {
  try {
    return await lock(path, oneTry(options));
  } catch (error) {
    if (error instanceof LockBusyError) return null;
    throw error;
  }
}

/** Runs `fn(lock)` holding the lock, and releases it however `fn` ends. */
async function withLock(path, fn, options) {
  if (typeof fn !== "function") throw typeError(`invalid fn: must be a function, got ${typeof fn}`);
  const held = await lock(path, options);
  let result;
  try {
    result = await fn(held);
  } catch (error) {
    try {
      await held.release();
    } catch (releaseError) {
      throw suppressed(releaseError, error, "lock release failed after the callback threw");
    }
    throw error;
  }
  await held.release();
  return result;
}

/** `lock` blocking this thread while it waits (no `signal`: nothing could fire it meanwhile). */
function lockSync(path, options) {
  const params = engineParams(path, options);
  if (options?.signal !== undefined) throw typeError("invalid signal: the synchronous functions take none");
  let granted;
  try {
    granted = native.lockSync(params);
  } catch (error) {
    throw publicError(error, path);
  }
  return new Lock(granted, path, { onLost: options?.onLost, maxHoldMs: params.maxHoldMs });
}

function tryLockSync(path, options) {
  try {
    return lockSync(path, oneTry(options));
  } catch (error) {
    if (error instanceof LockBusyError) return null;
    throw error;
  }
}

/** `withLock` for a synchronous `fn`. */
function withLockSync(path, fn, options) {
  if (typeof fn !== "function") throw typeError(`invalid fn: must be a function, got ${typeof fn}`);
  const held = lockSync(path, options);
  let result;
  try {
    result = fn(held);
  } catch (error) {
    try {
      held.releaseSync();
    } catch (releaseError) {
      throw suppressed(releaseError, error, "lock release failed after the callback threw");
    }
    throw error;
  }
  held.releaseSync();
  return result;
}

/**
 * Opt-in: release every hold of this process when it exits or gets SIGINT, SIGTERM, SIGQUIT
 * or SIGABRT (the signal then ends the process as it would have). Not needed for safety: the
 * kernel drops a dead process's lock and the next acquirer takes the file over at once.
 */
function releaseOnExit() {
  registerProcessCleanup(native.releaseEveryHoldSync);
}

module.exports = {
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
};
