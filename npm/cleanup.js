"use strict";
// Process cleanup (DESIGN §5), like the TypeScript module: on exit and on SIGINT, SIGTERM,
// SIGQUIT and SIGABRT every held lock is released synchronously. The listeners are installed
// once per process, whatever number of copies of this package are loaded, so that none pile up
// across restart cycles.

const SIGNALS = ["SIGINT", "SIGTERM", "SIGQUIT", "SIGABRT"];
const STATE = Symbol.for("session-write-lock.process-cleanup");

/** Makes sure `releaseAllSync` runs when the process exits or is told to stop. */
function registerProcessCleanup(releaseAllSync) {
  let state = process[STATE];
  if (!state) {
    state = { releasers: new Set() };
    process[STATE] = state;
    install(state.releasers);
  }
  state.releasers.add(releaseAllSync);
}

function install(releasers) {
  const releaseAll = () => {
    for (const releaseAllSync of releasers) releaseAllSync();
  };
  process.on("exit", releaseAll);
  for (const signal of SIGNALS) {
    const onSignal = () => {
      releaseAll();
      // Our listener turned off the signal's default action (terminating). When nobody else
      // listens, restore it and re-raise, so the process ends as it would have without us.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

module.exports = { registerProcessCleanup };
