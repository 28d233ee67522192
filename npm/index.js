"use strict";
// session-write-lock for Node (docs/PROTOCOL.md): the native addon does the locking and every
// lock decision; this file only gives it the shape of the gateway's TypeScript module
// (promises, handles that support `await using`, its error classes and guards, AbortSignal,
// settings, test hooks), records where each hold was taken, and wires up process cleanup.

const native = require("./native.js");
const { abortError, abortableWait, checkSignal } = require("./abort.js");
const {
  registerProcessCleanup,
  unregisterProcessCleanup,
  handleTerminationSignal,
  SIGNALS,
} = require("./cleanup.js");

// Node 20 may predate Symbol.asyncDispose; TypeScript's downlevel helpers use this fallback.
const asyncDispose = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");

/** Text other users control (file names, a lock file's host or label), safe for terminals and logs. */
const printable = (text) => native.printable(String(text));

const TIMEOUT_CODE = "OPENCLAW_SESSION_WRITE_LOCK_TIMEOUT";
const STALE_CODE = "OPENCLAW_SESSION_WRITE_LOCK_STALE";

/** The lock stayed busy until the timeout. `SessionWriteLockError` is its older name. */
class SessionWriteLockTimeoutError extends Error {
  /**
   * `new SessionWriteLockTimeoutError({ timeoutMs, owner, lockPath, ownerPid?, ownerPidAlive? })`;
   * the older `(message, { timeoutMs, lockPath, owner })` form is accepted too.
   */
  constructor(params, details) {
    const p = typeof params === "string" ? { ...details, message: params } : (params ?? {});
    super(p.message ?? `session file locked (timeout ${p.timeoutMs}ms): ${printable(p.owner)} ${printable(p.lockPath)}`);
    this.name = "SessionWriteLockTimeoutError";
    this.code = TIMEOUT_CODE;
    this.reason = "session_busy";
    this.timeoutMs = p.timeoutMs;
    this.owner = p.owner;
    this.lockPath = p.lockPath;
    this.ownerPid = p.ownerPid ?? undefined;
    this.ownerPidAlive = p.ownerPidAlive === true;
  }
}

/** The holder is alive but only too old (`too-old`, `hold-exceeded`), or a hold was lost (`lease-lost`). */
class SessionWriteLockStaleError extends Error {
  /** `new SessionWriteLockStaleError({ owner, lockPath, staleReasons })`. */
  constructor(params = {}) {
    const staleReasons = params.staleReasons?.length ? [...params.staleReasons] : ["unknown"];
    super(
      `session file lock stale (${staleReasons.join(", ")}): ${printable(params.owner)} ${printable(params.lockPath)}`,
    );
    this.name = "SessionWriteLockStaleError";
    this.code = STALE_CODE;
    this.owner = params.owner;
    this.lockPath = params.lockPath;
    this.staleReasons = staleReasons;
    this.ownerPid = params.ownerPid ?? undefined;
    this.ownerPidAlive = params.ownerPidAlive === true;
  }
}

const isObject = (value) => typeof value === "object" && value !== null;

function isSessionWriteLockTimeoutError(error) {
  return error instanceof SessionWriteLockTimeoutError || (isObject(error) && error.code === TIMEOUT_CODE);
}

function isSessionWriteLockStaleError(error) {
  return error instanceof SessionWriteLockStaleError || (isObject(error) && error.code === STALE_CODE);
}

function isSessionWriteLockAcquireError(error) {
  return isSessionWriteLockTimeoutError(error) || isSessionWriteLockStaleError(error);
}

/** A timeout whose holder is this very process, alive: a hold of ours blocks it. */
function isSessionWriteLockBusyWithActiveRun(error) {
  return isSessionWriteLockTimeoutError(error) && error.ownerPid === process.pid && error.ownerPidAlive === true;
}

// Diagnostics: where each hold of this process was taken. The stack is captured into an object
// (V8 formats it only when `.stack` is read) and keyed by the hold's generation. Collecting the
// frames is what costs (benches/node/stack-capture.mjs), so only a few are collected: those of
// the caller, since the capture starts above acquireSessionWriteLock. It is made in
// acquireSessionWriteLock itself: V8 also walks, and summarizes, the frames it skips, and a
// helper's frame was one more (~6k instructions a cycle, benches/node/cycle-hops.sh).
const acquireSites = new Map();
const packageDir = __dirname;
const SITE_FRAMES = 3;

/** The first frames of a captured stack that are outside this package and Node's internals. */
function callerFrames(site, count = 3) {
  const lines = String(site?.stack ?? "").split("\n").slice(1);
  return lines
    .map((line) => line.trim())
    .filter((line) => line.startsWith("at ") && !line.includes(packageDir) && !line.includes("node:internal"))
    .slice(0, count);
}

/** A hold of this process as errors and listHeldSessionWriteLocks() show it. */
function describeHold(held) {
  const frames = callerFrames(acquireSites.get(held.generation));
  return {
    lockPath: held.lockPath,
    owner: held.owner ?? null,
    acquiredAt: new Date(held.acquiredAtMs).toISOString(),
    ageMs: held.ageMs,
    count: held.count,
    maxHoldMs: held.maxHoldMs ?? null,
    deadlineAt: held.maxHoldMs == null ? null : new Date(held.acquiredAtMs + held.maxHoldMs).toISOString(),
    stack: frames,
  };
}

/** The addon's internal errors as the package's classes; other errors pass through. */
function publicError(error) {
  if (!isObject(error)) return error;
  // The messages are built from the fields, in the gateway's words; the hold of this process
  // that blocks, if any, is added below with its acquire site.
  const { timeoutMs, owner, lockPath, ownerPid, ownerPidAlive, staleReasons } = error;
  let result;
  if (error.code === "SESSION_BUSY") {
    result = new SessionWriteLockTimeoutError({ timeoutMs, owner, lockPath, ownerPid, ownerPidAlive });
  } else if (error.code === "SESSION_STALE") {
    result = new SessionWriteLockStaleError({ owner, lockPath, staleReasons, ownerPid, ownerPidAlive });
  } else {
    return error;
  }
  if (error.heldHere) {
    const hold = describeHold(error.heldHere);
    const where = hold.stack.length ? `, acquired ${hold.stack[0]}` : "";
    result.heldBy = hold;
    result.message += ` (held by this process: owner=${printable(hold.owner ?? "unknown")}, for ${hold.ageMs}ms${where})`;
  }
  return result;
}

/** What acquireSessionWriteLock resolves to. */
class SessionWriteLock {
  #native;
  // Kept here: every read of the native getter is a napi call (~3.6k instructions, issue #21).
  #generation;

  constructor(nativeLock, generation) {
    this.#native = nativeLock;
    this.#generation = generation;
    this.lockPath = nativeLock.lockPath;
  }

  async release() {
    const outcome = this.#native.release();
    if (outcome === "released" || outcome === "compromised") acquireSites.delete(this.#generation);
  }

  /** Throws SessionWriteLockStaleError (`lease-lost`) when this hold is no longer in force. */
  assertOwned() {
    try {
      this.#native.assertOwned();
    } catch (error) {
      throw publicError(error);
    }
  }

  [asyncDispose]() {
    return this.release();
  }
}

function granted(nativeLock, site) {
  const generation = nativeLock.generation;
  if (!acquireSites.has(generation)) acquireSites.set(generation, site);
  return new SessionWriteLock(nativeLock, generation);
}

/** The test hook's resolver (`setProcessStartTimeResolverForTest`), or null. */
let startTimeResolver = null;

/** The resolver's answer for one pid: a whole number, or null ("unknown") for anything else. */
function resolveStartTime(pid) {
  let value;
  try {
    value = startTimeResolver(pid);
  } catch {
    return null;
  }
  if (typeof value === "bigint") value = Number(value);
  return Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function payloadPid(text) {
  try {
    return JSON.parse(text)?.pid;
  } catch {
    return undefined;
  }
}

/**
 * The pid the lock of `sessionFile` names, if any (`pinStartTimes` checks it), read by the
 * native inspection: never through a symlink, never from a FIFO or device, at most 64 KiB.
 */
function sessionLockPid(sessionFile) {
  try {
    return native.inspectSessionWriteLock(sessionFile)?.pid ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * With a resolver set, asks it here, on the JS thread, for our pid and the given ones, and
 * hands the answers to the native code (which never calls JavaScript back).
 */
function pinStartTimes(otherPids) {
  if (!startTimeResolver) return;
  const pids = new Set([process.pid]);
  for (const pid of otherPids) if (Number.isSafeInteger(pid) && pid > 0) pids.add(pid);
  native.setStartTimePins([...pids].map((pid) => ({ pid, starttime: resolveStartTime(pid) ?? undefined })));
}

function setProcessStartTimeResolverForTest(resolver) {
  if (resolver !== null && resolver !== undefined && typeof resolver !== "function") {
    throw new TypeError("invalid resolver: must be a function or null");
  }
  startTimeResolver = resolver ?? null;
  if (startTimeResolver) pinStartTimes([]);
  else native.setStartTimePins(null);
}

/** What the lock service was last told about its background watchdog (on by default). */
let backgroundWatchdog = true;

/**
 * The gateway's module starts no watchdog under its test runner (`VITEST=true`, unless
 * `OPENCLAW_TEST_SESSION_LOCK_WATCHDOG=1`): its tests end holds with `runLockWatchdogCheck`.
 * Read at every acquire, as it decides when it starts its watchdog.
 */
function syncBackgroundWatchdog() {
  const on = process.env.VITEST !== "true" || process.env.OPENCLAW_TEST_SESSION_LOCK_WATCHDOG === "1";
  if (on !== backgroundWatchdog) native.setBackgroundWatchdog(on);
  backgroundWatchdog = on;
}

async function acquireSessionWriteLock(params) {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = SITE_FRAMES;
  const site = {};
  Error.captureStackTrace(site, acquireSessionWriteLock);
  Error.stackTraceLimit = limit;
  syncBackgroundWatchdog();
  if (startTimeResolver && isObject(params) && typeof params.sessionFile === "string") {
    pinStartTimes([sessionLockPid(params.sessionFile)]);
  }
  const signal = isObject(params) ? params.signal : undefined;
  checkSignal(signal);
  if (signal?.aborted) throw abortError(signal);
  registerProcessCleanup(native.releaseEveryHoldSync);
  const cancel = signal ? new native.WaitCancel() : undefined;
  let result;
  try {
    // A free lock comes back at once as a lock; a busy one as a promise the lock service settles.
    result = native.acquire(params, cancel);
    if (result instanceof Promise) result = await (signal ? abortableWait(result, signal, cancel) : result);
  } catch (error) {
    throw publicError(error);
  }
  return granted(result, site);
}

async function releaseAllSessionWriteLocks() {
  return releaseAllSessionWriteLocksSync();
}

function releaseAllSessionWriteLocksSync() {
  const released = native.releaseAllSessionWriteLocksSync();
  acquireSites.clear();
  return released;
}

/** Every hold of this process: lock path, owner label, acquired at, age, count, max-hold, stack. */
function listHeldSessionWriteLocks() {
  const held = native.heldLocks();
  const live = new Set(held.map((h) => h.generation));
  for (const generation of acquireSites.keys()) if (!live.has(generation)) acquireSites.delete(generation);
  return held.map(describeHold);
}

function writeLockConfig(config) {
  const w = config?.session?.writeLock;
  return { acquireTimeoutMs: w?.acquireTimeoutMs, staleMs: w?.staleMs, maxHoldMs: w?.maxHoldMs };
}

function resolveSessionWriteLockOptions(config, { env = process.env, maxHoldMsFallback } = {}) {
  return native.resolveSettings({ env, ...writeLockConfig(config), maxHoldMsFallback });
}

function resolveSessionWriteLockAcquireTimeoutMs(config, env = process.env) {
  return resolveSessionWriteLockOptions(config, { env }).timeoutMs;
}

function resolveSessionWriteLockStaleMs(config, env = process.env) {
  return resolveSessionWriteLockOptions(config, { env }).staleMs;
}

function resolveSessionLockMaxHoldFromTimeout(params) {
  return native.resolveSessionLockMaxHoldFromTimeout(params ?? {});
}

/** Reads holders' command lines, once per pid per sweep; a reader that throws is asked again. */
function memoizedReader(read) {
  const seen = new Map();
  return (pid) => {
    if (seen.has(pid)) return seen.get(pid);
    let args;
    try {
      args = read(pid);
    } catch {
      return null;
    }
    const value = Array.isArray(args) ? args.map(String) : null;
    seen.set(pid, value);
    return value;
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * One lock file of a sweep. All file work is the native inspection's, on the libuv pool: it
 * never follows a symlink, never opens a FIFO or device, reads at most 64 KiB. A first look
 * that removes nothing gives the pid when the JavaScript side must answer for it (the
 * command-line reader, the start-time test hook); the second look then decides and removes.
 */
async function sweepOne(lockPath, base, remove, readArgs) {
  const look = (removeStale, ownerArgs) =>
    native.inspectLockFile({ ...base, lockPath, removeStale, ...(ownerArgs === undefined ? {} : { ownerArgs }) });
  if (!readArgs && !startTimeResolver) return look(remove);
  const first = await look(false, null);
  if (!first) return null;
  pinStartTimes([first.pid]);
  // Without a reader of the caller's, the command line is read natively (`undefined`).
  if (first.format === "legacy" && first.pidAlive && first.pid != null) {
    return look(remove, readArgs ? readArgs(first.pid) : undefined);
  }
  if (startTimeResolver || (remove && first.removable)) return look(remove, readArgs ? null : undefined);
  return first;
}

/** The error of one lock file a sweep could not inspect or remove, as the result lists it. */
function entryError(lockPath, error) {
  const name = typeof lockPath === "string" ? lockPath : lockPath.toString();
  return { lockPath: name, code: typeof error?.code === "string" ? error.code : null, message: String(error?.message ?? error) };
}

async function cleanStaleLockFiles(params) {
  if (!isObject(params)) throw new TypeError("invalid params: must be an object");
  const { sessionsDir, removeStale, nowMs, log, readOwnerProcessArgs } = params;
  const remove = removeStale !== false;
  const { staleMs } = native.resolveSettings({
    env: params.env ?? process.env,
    ...writeLockConfig(params.config),
    call: { staleMs: params.staleMs },
  });
  if (readOwnerProcessArgs !== undefined && typeof readOwnerProcessArgs !== "function") {
    throw new TypeError("invalid readOwnerProcessArgs: must be a function");
  }
  const readArgs = readOwnerProcessArgs && memoizedReader(readOwnerProcessArgs);
  const locks = [];
  const cleaned = [];
  const errors = [];
  // A name that is not UTF-8 comes as a Buffer of its bytes, inspected as it is.
  for (const lockPath of await native.listLockFiles(sessionsDir)) {
    await nextTurn(); // a large directory never holds up the event loop
    let seen;
    try {
      seen = await sweepOne(lockPath, { staleMs, nowMs }, remove, readArgs);
    } catch (error) {
      // A bad option of the caller's is the call's error; one file that cannot be read or
      // removed must not hide the others.
      if (error instanceof TypeError || error instanceof RangeError) throw error;
      const failed = entryError(lockPath, error);
      errors.push(failed);
      log?.warn?.(`could not sweep session lock: ${printable(failed.message)}`);
      continue;
    }
    if (!seen) continue;
    locks.push(seen);
    if (seen.removed) {
      cleaned.push(seen);
      const reasons = seen.staleReasons.length ? seen.staleReasons.join(", ") : "unknown";
      log?.warn?.(`removed stale session lock: ${printable(seen.lockPath)} (${reasons})`);
    }
  }
  const tempFilesRemoved = remove ? native.cleanTempFiles({ sessionsDir, staleMs, nowMs }) : [];
  return { locks, cleaned, tempFilesRemoved, errors };
}

async function inspectSessionWriteLock(sessionFile) {
  return native.inspectSessionWriteLock(sessionFile);
}

/** Test hook of the gateway's module: waits for nothing pending, removes the process listeners. */
async function drainSessionWriteLockStateForTest() {
  unregisterProcessCleanup();
}

/** Test hook: releases every hold and removes the package's process listeners. */
function resetSessionWriteLockStateForTest() {
  releaseAllSessionWriteLocksSync();
  unregisterProcessCleanup();
  setProcessStartTimeResolverForTest(null);
}

const testing = Object.freeze({
  cleanupSignals: Object.freeze([...SIGNALS]),
  handleTerminationSignal: (signal) => handleTerminationSignal(signal),
  /** The pure verdict on a payload (the pid is probed now). */
  inspectLockPayloadForTest(payload, staleMs, nowMs, { respectMaxHold = false } = {}) {
    const text = typeof payload === "string" ? payload : JSON.stringify(payload ?? null);
    if (startTimeResolver) pinStartTimes([payloadPid(text)]);
    const seen = native.inspectLockPayload({ payload: text, staleMs, nowMs, respectMaxHold });
    const { pid, pidAlive, createdAt, ageMs, stale, staleReasons } = seen;
    return { pid, pidAlive, createdAt, ageMs, stale, staleReasons };
  },
  releaseAllLocksSync: () => releaseAllSessionWriteLocksSync(),
  /** The watchdog as if the clock read `nowMs`; resolves to how many holds it ended. */
  runLockWatchdogCheck: async (nowMs = Date.now()) => native.runWatchdogCheck(nowMs),
  resolveRemainingAcquireTimeoutMs(timeoutMs, startedAtMs, nowMs) {
    if (timeoutMs === Infinity) return Infinity;
    return Math.max(0, timeoutMs - Math.max(0, nowMs - startedAtMs));
  },
  /**
   * Replaces how start times are read (our pid and others; `null` restores the real reading).
   * A throw or a non-integer answer means "unknown". The resolver is asked on the JS thread
   * for our pid and the pids named by the lock files a call looks at, when the call starts.
   */
  setProcessStartTimeResolverForTest: (resolver) => setProcessStartTimeResolverForTest(resolver),
});

// The gateway's module (VB/VC) publishes its test hooks on a global symbol under a test runner,
// and its session-write-lock.test-support.ts reads them from there: the same objects here, so
// that module and the tests that import it work with this package in the module's place.
if (process.env.VITEST || process.env.NODE_ENV === "test") {
  globalThis[Symbol.for("openclaw.sessionWriteLockTestApi")] = { resetSessionWriteLockStateForTest, testing };
}

module.exports = {
  acquireSessionWriteLock,
  releaseAllSessionWriteLocks,
  releaseAllSessionWriteLocksSync,
  resetInstanceNonce: native.resetInstanceNonce,
  getInstanceNonce: native.getInstanceNonce,
  cleanStaleLockFiles,
  inspectSessionWriteLock,
  listHeldSessionWriteLocks,
  resolveSessionLockMaxHoldFromTimeout,
  resolveSessionWriteLockAcquireTimeoutMs,
  resolveSessionWriteLockStaleMs,
  resolveSessionWriteLockOptions,
  setSessionWriteLockLogger: native.setSessionWriteLockLogger,
  SessionWriteLockTimeoutError,
  SessionWriteLockStaleError,
  SessionWriteLockError: SessionWriteLockTimeoutError,
  isSessionWriteLockTimeoutError,
  isSessionWriteLockStaleError,
  isSessionWriteLockAcquireError,
  isSessionWriteLockBusyWithActiveRun,
  drainSessionWriteLockStateForTest,
  resetSessionWriteLockStateForTest,
  testing,
  __testing: testing,
};
