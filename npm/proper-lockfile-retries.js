"use strict";
// session-write-lock/proper-lockfile: the `retries` option as proper-lockfile 4 reads it (the
// `retry` package's operation): a number of retries, or { retries = 10, factor = 2,
// minTimeout = 1000, maxTimeout = Infinity, randomize = false, forever, unref, maxRetryTime }.
// Its waits are min(maxTimeout, round(r · minTimeout · factor^n)), r = 1 or random in [1, 2),
// sorted ascending. See docs/PROTOCOL.md, "proper-lockfile's lock".

/** `{ timeouts, forever, unref, maxRetryTime }` for a `retries` option. */
function retrySchedule(retries) {
  const given = typeof retries === "number" ? { retries } : { ...(retries || { retries: 0 }) };
  const opts = { retries: 10, factor: 2, minTimeout: 1000, maxTimeout: Infinity, randomize: false, ...given };
  if (opts.minTimeout > opts.maxTimeout) throw new Error("minTimeout is greater than maxTimeout");
  const wait = (n) => {
    const r = opts.randomize ? Math.random() + 1 : 1;
    return Math.min(Math.round(r * opts.minTimeout * opts.factor ** n), opts.maxTimeout);
  };
  const timeouts = [];
  for (let n = 0; n < opts.retries; n += 1) timeouts.push(wait(n));
  if (opts.forever && timeouts.length === 0) timeouts.push(wait(opts.retries));
  timeouts.sort((a, b) => a - b);
  return {
    timeouts,
    forever: Boolean(opts.forever),
    unref: Boolean(opts.unref),
    maxRetryTime: opts.maxRetryTime || Infinity,
  };
}

/** The error an exhausted operation reports: the most frequent message, the latest on a tie. */
function mainError(errors) {
  const counts = new Map();
  let main = null;
  let best = 0;
  for (const error of errors) {
    const count = (counts.get(error.message) ?? 0) + 1;
    counts.set(error.message, count);
    if (count >= best) {
      main = error;
      best = count;
    }
  }
  return main;
}

module.exports = { retrySchedule, mainError };
