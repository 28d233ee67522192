"use strict";
// session-write-lock/file-lock: options, defaults, the retry schedule and the errors of
// @openclaw/fs-safe's file lock (0.21), with its messages (docs/PROTOCOL.md, "fs-safe's file lock").

const fs = require("node:fs");
const path = require("node:path");

const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
const DEFAULT_STALE_MS = 30_000;
const STALE_RECOVERIES = new Set(["fail-closed", "remove-if-unchanged"]);
// fs-safe's operational codes; every other code is a "policy" error.
const OPERATIONAL = new Set([
  "helper-failed", "helper-unavailable", "not-empty", "not-found", "not-removable",
  "permission-unverified", "read-failed", "timeout", "unsupported-platform",
]);

/** fs-safe's error class for `too-large`, `not-file`, `helper-unavailable`, … */
class FsSafeError extends Error {
  constructor(code, message, options = {}) {
    super(message, options);
    this.name = "FsSafeError";
    this.code = code;
    this.category = OPERATIONAL.has(code) ? "operational" : "policy";
    this.details = options.details;
  }
}

/** `file_lock_timeout` / `file_lock_stale`: plain Errors with the paths, as fs-safe throws them. */
function lockError(kind, lockPath, normalizedTargetPath) {
  return Object.assign(new Error(`file lock ${kind} for ${normalizedTargetPath}`), {
    code: `file_lock_${kind}`,
    lockPath,
    normalizedTargetPath,
  });
}

function finiteNonNegative(value, label) {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${label} must be a finite non-negative number`);
}

function validateRetry(retry) {
  if (retry.retries !== undefined && (!Number.isSafeInteger(retry.retries) || retry.retries < 0)) {
    throw new RangeError("lock retry.retries must be a non-negative safe integer");
  }
  for (const key of ["factor", "minTimeout", "maxTimeout"]) {
    if (retry[key] !== undefined) finiteNonNegative(retry[key], `lock retry.${key}`);
  }
  if (retry.minTimeout !== undefined && retry.maxTimeout !== undefined && retry.minTimeout > retry.maxTimeout) {
    throw new RangeError("lock retry.minTimeout must not exceed retry.maxTimeout");
  }
}

/** Undefined and Infinity mean "no limit". */
function validateLimit(value, label) {
  if (value !== undefined && value !== Number.POSITIVE_INFINITY) finiteNonNegative(value, label);
}

/**
 * The options of one acquisition with the file-lock defaults filled in (staleMs 30 s,
 * fail-closed, no timeout, retry every 50 ms), validated before any I/O.
 */
function resolveOptions(options) {
  if (options === null || typeof options !== "object") throw new TypeError("file lock options must be an object");
  if (typeof options.payload !== "function") throw new TypeError("file lock options.payload must be a function");
  const resolved = {
    ...options,
    retry: options.retry ?? {},
    staleMs: options.staleMs ?? DEFAULT_STALE_MS,
    staleRecovery: options.staleRecovery ?? "fail-closed",
  };
  validateRetry(resolved.retry);
  validateLimit(resolved.timeoutMs, "lock timeoutMs");
  validateLimit(resolved.staleMs, "lock staleMs");
  const interval = resolved.compromiseCheckIntervalMs;
  if (interval !== undefined && interval !== 0 && !(Number.isFinite(interval) && interval >= 1 && interval <= MAX_TIMER_DELAY_MS)) {
    throw new RangeError(`lock compromiseCheckIntervalMs must be 0 or a finite number between 1 and ${MAX_TIMER_DELAY_MS}`);
  }
  if (!STALE_RECOVERIES.has(resolved.staleRecovery)) {
    throw new RangeError(`lock staleRecovery must be "fail-closed" or "remove-if-unchanged"`);
  }
  if (resolved.lockRoot !== undefined) {
    throw new FsSafeError("helper-unavailable", "session-write-lock/file-lock does not support lockRoot");
  }
  return resolved;
}

/** The n-th wait (n from 0): min(max, round(clamp(min·factor^n, min, max) · jitter)). */
function delayMs(retry, attempt) {
  const min = retry.minTimeout ?? 50;
  const max = retry.maxTimeout ?? 1000;
  const scaled = min === 0 ? 0 : min * (retry.factor ?? 1) ** attempt;
  const base = Math.min(max, Math.max(min, scaled));
  return Math.min(max, Math.round(base * (retry.randomize ? 1 + Math.random() : 1)));
}

/** The wait before retry `attempt`, clamped to the time left; undefined once either budget is spent. */
function retryDelay(retry, timeoutMs, elapsed, attempt) {
  if ((timeoutMs !== undefined && elapsed >= timeoutMs) || (retry.retries !== undefined && attempt >= retry.retries)) {
    return undefined;
  }
  const left = timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? Infinity : Math.max(0, timeoutMs - elapsed);
  return Math.min(delayMs(retry, attempt), left);
}

/** fs-safe's default rule: `createdAt` when it parses, else the file's mtime; a stat error is stale. */
function defaultShouldReclaim({ lockPath, payload, staleMs, nowMs }) {
  const createdAt = typeof payload?.createdAt === "string" ? Date.parse(payload.createdAt) : NaN;
  if (Number.isFinite(createdAt)) return nowMs - createdAt > staleMs;
  try {
    return nowMs - fs.statSync(lockPath).mtimeMs > staleMs;
  } catch {
    return true;
  }
}

/** JSON that is a non-array object, else null. */
function defaultParsePayload(raw) {
  try {
    const value = JSON.parse(raw);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * `{ normalizedTargetPath, lockPath }`: realpath of the (created) parent plus the leaf, and
 * `<that>.lock` or the explicit `lockPath` resolved against the cwd once.
 */
function resolvePaths(targetPath, lockPath) {
  const resolved = path.resolve(targetPath);
  const parent = path.dirname(resolved);
  fs.mkdirSync(parent, { recursive: true });
  const normalizedTargetPath = path.join(fs.realpathSync(parent), path.basename(resolved));
  return {
    normalizedTargetPath,
    lockPath: lockPath === undefined ? `${normalizedTargetPath}.lock` : path.resolve(lockPath),
  };
}

module.exports = {
  FsSafeError,
  lockError,
  resolveOptions,
  retryDelay,
  defaultShouldReclaim,
  defaultParsePayload,
  resolvePaths,
};
