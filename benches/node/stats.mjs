// Figures shared by the Node benchmarks; the C driver (c/bench.c) computes them the same way so
// that its numbers and these can be compared.

// Nearest rank of an ascending-sorted array: the smallest sample with at least percent% of the
// samples at or below it (integer percent, so that c/bench.c computes exactly the same).
function nearestRank(sorted, percent) {
  return sorted[Math.max(0, Math.ceil((percent * sorted.length) / 100) - 1)];
}

// samples: per-cycle durations in ns (BigUint64Array from process.hrtime.bigint() deltas).
export function summarize(samples) {
  const sorted = samples.slice().sort();
  return {
    median_ns_per_cycle: Number(nearestRank(sorted, 50)),
    p99_ns: Number(nearestRank(sorted, 99)),
  };
}

// One JSON object per line on stdout: what the suite's runner parses.
export function printJsonLine(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
