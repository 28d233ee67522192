"use strict";
// The acquire loop of session-write-lock/file-lock (docs/PROTOCOL.md, "fs-safe's file lock"),
// written once as a generator for both APIs: it yields the caller's hook results (awaited by
// the async driver, refused as thenables by the sync one) and its waits (a timer, or
// Atomics.wait for the sync API). The file work and every decision about holders and guards
// are native (`sidecar*`); what stays here is the order fs-safe runs its hooks in.

const { AsyncLocalStorage } = require("node:async_hooks");
const native = require("./native.js");
const { FsSafeError, lockError, retryDelay, defaultShouldReclaim, defaultParsePayload } = require("./file-lock-options.js");

const SLEEP = Symbol("sleep");
const MAX_LOCK_BYTES = 1024 * 1024;
const TOKEN_OVERHEAD = 138; // "\n", the 136-character token line, "\n"
const TAKEN = new Set(["taken", "adopted"]);

function serialize(payload) {
  const json = JSON.stringify(payload, null, 2);
  if (typeof json !== "string") throw new TypeError("file lock payload() must return a JSON-serializable object");
  const bytes = Buffer.byteLength(json) + TOKEN_OVERHEAD;
  if (bytes > MAX_LOCK_BYTES) {
    throw new FsSafeError("too-large", `sidecar lock payload exceeds limit of ${MAX_LOCK_BYTES} bytes (got ${bytes})`);
  }
  return json;
}

/**
 * One acquisition. `ctx`: `{ state, normalizedTargetPath, lockPath, options, sync, register }`,
 * where `register(native)` records the new hold and returns its handle; `state` is the
 * manager's `{ held, admissions, guards }`.
 */
function* acquisition(ctx) {
  const { state, normalizedTargetPath: target, lockPath, options } = ctx;
  if (typeof native.sidecarCreate !== "function") {
    // The core's sidecar lock (a directory flock) is Unix-only so far: say so, not "not a function".
    throw new Error(`session-write-lock/file-lock is not available on ${process.platform} yet: ${lockPath}`);
  }
  const admission = Symbol("admission");
  const started = performance.now();
  // The guard we hold (made, or taken over from a dead maker), and whether we removed a stale
  // lock under it.
  const reclaim = { guard: null, removed: false };
  const keepGuard = (guard) => {
    reclaim.guard = guard;
    state.guards.add(guard);
  };
  const dropGuard = () => {
    const guard = reclaim.guard;
    reclaim.guard = null;
    reclaim.removed = false;
    if (guard) {
      state.guards.delete(guard);
      guard.remove();
    }
  };
  let waits = 0;
  try {
    for (;;) {
      const wait = yield* oneAttempt();
      if (wait === "done") return ctx.result;
      if (wait === "retry") continue;
      if (state.admissions.get(target) === admission) state.admissions.delete(target);
      const delay = retryDelay(options.retry, options.timeoutMs, performance.now() - started, waits);
      if (delay === undefined) throw lockError("timeout", lockPath, target);
      waits += 1;
      yield { [SLEEP]: delay };
    }
  } finally {
    try {
      dropGuard();
    } catch {
      // A guard we cannot remove is ours no longer once this process ends: its flock goes.
    }
    if (state.admissions.get(target) === admission) state.admissions.delete(target);
  }

  // "done" (ctx.result set), "retry" at once, or "wait".
  function* oneAttempt() {
    const held = state.held.get(target);
    if (held && options.reentrantOwner !== undefined && held.reentrantOwner === options.reentrantOwner) {
      ctx.result = ctx.join(held);
      return "done";
    }
    const pending = state.admissions.get(target);
    if (pending !== undefined && pending !== admission) {
      if (ctx.sync) throw lockError("timeout", lockPath, target); // a hook of the pending acquire re-entered
      return "wait";
    }
    state.admissions.set(target, admission);
    if (!reclaim.guard) {
      const seen = native.sidecarGuard(lockPath, false);
      if (seen.state === "adopted") keepGuard(seen);
      else if (seen.state !== "free") return "wait";
    }
    const json = serialize(yield options.payload());
    if (state.held.has(target)) return "wait";
    const created = native.sidecarCreate(lockPath, json);
    if (created) {
      ctx.result = ctx.register(created);
      try {
        dropGuard();
      } catch {
        // Left behind, it is ours and unflocked: the next acquirer takes it over at once.
      }
      return "done";
    }
    return yield* staleAdmission();
  }

  // Makes the guard, or takes over one whose maker is gone, unless we hold it already.
  function takeGuard() {
    if (reclaim.guard) return true;
    const guard = native.sidecarGuard(lockPath, true);
    if (!TAKEN.has(guard.state)) return false;
    keepGuard(guard);
    return true;
  }

  // The lock file is in the way: is its holder gone?
  function* staleAdmission() {
    const seen = native.sidecarSnapshot(lockPath);
    if (seen.kind === "gone") return "retry";
    if (seen.kind === "not-file") throw new FsSafeError("not-file", `sidecar lock is not a regular file: ${lockPath}`);
    if (seen.kind === "too-large") {
      throw new FsSafeError("too-large", `sidecar lock exceeds limit of ${MAX_LOCK_BYTES} bytes: ${lockPath}`);
    }
    if (seen.holder === "alive") {
      dropGuard();
      return "wait";
    }
    if (seen.holder === "gone") {
      // A holder of ours, dead: the kernel proves it, no hook is asked. Removed under the guard,
      // which keeps fs-safe reclaimers out meanwhile.
      if (!takeGuard()) return "wait";
      reclaim.removed ||= seen.removeIfUnchanged();
      return "retry";
    }
    if (reclaim.removed) {
      // We removed a stale lock and another acquirer created its own first.
      dropGuard();
      return "wait";
    }
    const raw = seen.raw.toString("utf8");
    const payload = yield (options.parsePayload ?? defaultParsePayload)(raw);
    const params = { lockPath, normalizedTargetPath: target, payload, staleMs: options.staleMs, nowMs: Date.now(), heldByThisProcess: false };
    if (!(yield (options.shouldReclaim ?? defaultShouldReclaim)(params))) return "wait";
    if (!seen.unchanged()) return "retry";
    if (options.staleRecovery !== "remove-if-unchanged") throw lockError("stale", lockPath, target);
    if (!takeGuard()) return "wait";
    if (state.held.has(target)) {
      dropGuard();
      return "retry";
    }
    if (typeof options.shouldRemoveStaleLock !== "function") {
      dropGuard();
      throw lockError("stale", lockPath, target);
    }
    if (!seen.unchanged()) return "retry";
    if (!(yield options.shouldRemoveStaleLock({ lockPath, normalizedTargetPath: target, raw, payload }))) {
      dropGuard();
      throw lockError("stale", lockPath, target);
    }
    reclaim.removed ||= seen.removeIfUnchanged();
    return "retry"; // with the guard: payload() runs again inside it, then the create
  }
}

// The acquisitions whose hooks are running, as fs-safe tracks them: an acquire of the same
// target in the same manager made from inside them could only wait for itself.
const ancestry = new AsyncLocalStorage();

/** Runs an acquisition with awaited hooks and timer waits. */
async function acquireAsync(ctx) {
  const outer = ancestry.getStore() ?? [];
  if (outer.some((a) => a.state === ctx.state && a.target === ctx.normalizedTargetPath)) {
    throw lockError("timeout", ctx.lockPath, ctx.normalizedTargetPath);
  }
  const inner = [...outer, { state: ctx.state, target: ctx.normalizedTargetPath }];
  const steps = acquisition(ctx);
  let next = () => steps.next();
  for (;;) {
    const { value, done } = ancestry.run(inner, next);
    if (done) return value;
    if (value?.[SLEEP] !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, value[SLEEP]));
      next = () => steps.next();
      continue;
    }
    try {
      const result = await value;
      next = () => steps.next(result);
    } catch (error) {
      next = () => steps.throw(error);
    }
  }
}

/** Runs an acquisition on this thread: blocking waits, synchronous hooks only. */
function acquireSync(ctx) {
  const steps = acquisition(ctx);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let next = () => steps.next();
  for (;;) {
    const { value, done } = next();
    if (done) return value;
    if (value?.[SLEEP] !== undefined) {
      Atomics.wait(cell, 0, 0, value[SLEEP]);
      next = () => steps.next();
    } else if (typeof value?.then === "function") {
      value.then(undefined, () => {}); // refused, so its rejection is nobody's
      const error = new TypeError("file lock callbacks of the sync API must not return a promise");
      next = () => steps.throw(error);
    } else {
      next = () => steps.next(value);
    }
  }
}

module.exports = { acquireAsync, acquireSync };
