"use strict";
// AbortSignal support shared by the gateway's API (index.js) and the general face (lock.js):
// a wait is cancelled in the lock service when the signal fires, and a lock granted just as
// it fires is released rather than left to nobody.

function abortError(signal) {
  if (signal.reason instanceof Error) return signal.reason;
  const error = new Error("request aborted", { cause: signal.reason });
  error.name = "AbortError";
  return error;
}

/**
 * Throws a TypeError unless `signal` is undefined or an AbortSignal: checked before a wait
 * starts, since a wait whose signal cannot be listened to would go on after its promise
 * rejected, and its lock would be granted to nobody.
 */
function checkSignal(signal) {
  if (signal === undefined || signal instanceof AbortSignal) return;
  const error = new TypeError(`invalid signal: must be an AbortSignal, got ${signal === null ? "null" : typeof signal}`);
  error.code = "ERR_INVALID_ARG_TYPE";
  throw error;
}

/** Settles with the wait, or rejects at once when the signal fires; a lock granted late is released. */
function abortableWait(waiting, signal, cancel) {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel.cancel();
      reject(abortError(signal));
      waiting.then(
        (lock) => lock.release(),
        () => {},
      );
    };
    signal.addEventListener("abort", onAbort, { once: true });
    waiting.then(
      (lock) => {
        signal.removeEventListener("abort", onAbort);
        resolve(lock);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

module.exports = { abortError, abortableWait, checkSignal };
