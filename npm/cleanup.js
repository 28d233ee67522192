"use strict";
// Process cleanup (docs/PROTOCOL.md, "Owners inside a process"), like the TypeScript module: on
// exit and on SIGINT, SIGTERM, SIGQUIT and SIGABRT (on Windows: the signals Node delivers there,
// SIGINT and SIGBREAK for Ctrl-C and Ctrl-Break, SIGHUP for a closed console window) every hold
// of every thread is released synchronously (the nonce stays: only an explicit release-all
// rotates it). The listeners are installed once per process, on the main thread only, whatever
// number of copies of this package are loaded, so that none pile up across restart cycles or
// workers. A worker thread has a `process` object of its own, and its end must not release
// anyone else's locks: there the addon's environment cleanup hook releases that worker's holds
// and nothing else, also when the main thread's `process.exit()` stops it.

const { isMainThread } = require("node:worker_threads");

const WINDOWS = process.platform === "win32";
const SIGNALS = WINDOWS ? ["SIGINT", "SIGBREAK", "SIGHUP"] : ["SIGINT", "SIGTERM", "SIGQUIT", "SIGABRT"];
const STATE = Symbol.for("session-write-lock.process-cleanup");

/** Makes sure `releaseAllSync` runs when the process exits or is told to stop. */
function registerProcessCleanup(releaseAllSync) {
  if (!isMainThread) return;
  let state = process[STATE];
  if (!state) {
    state = { releasers: new Set(), listeners: [] };
    process[STATE] = state;
    install(state);
  }
  state.releasers.add(releaseAllSync);
}

/** Releases every lock, as a signal would; re-raises the signal when ours is its only listener. */
function handleTerminationSignal(signal, releasers = process[STATE]?.releasers ?? new Set()) {
  for (const releaseAllSync of releasers) releaseAllSync();
  const ours = process[STATE]?.listeners.find(([event]) => event === signal)?.[1];
  // Our listener turned off the signal's default action (terminating). When nobody else
  // listens, restore it and re-raise, so the process ends as it would have without us.
  const others = process.listeners(signal).filter((listener) => listener !== ours).length;
  if (others === 0) {
    if (ours) process.off(signal, ours);
    // Windows has no signals to raise: process.kill terminates the process (exit code 1), and
    // takes only SIGINT, SIGTERM, SIGQUIT or SIGKILL for it.
    process.kill(process.pid, WINDOWS ? "SIGTERM" : signal);
  }
}

function install(state) {
  const releaseAll = () => {
    for (const releaseAllSync of state.releasers) releaseAllSync();
  };
  state.listeners.push(["exit", releaseAll]);
  for (const signal of SIGNALS) {
    state.listeners.push([signal, () => handleTerminationSignal(signal, state.releasers)]);
  }
  for (const [event, listener] of state.listeners) process.on(event, listener);
}

/** Removes the package's process listeners (test hooks), so listener counts return to baseline. */
function unregisterProcessCleanup() {
  const state = process[STATE];
  if (!state) return;
  for (const [event, listener] of state.listeners) process.off(event, listener);
  delete process[STATE];
}

module.exports = { registerProcessCleanup, unregisterProcessCleanup, handleTerminationSignal, SIGNALS };
