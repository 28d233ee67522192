// Figures shared by the Node benchmarks; the C driver (c/bench.c) computes them the same way so
// that its numbers and these can be compared.

// Nearest rank of an ascending-sorted array: the smallest sample with at least percent% of the
// samples at or below it (integer percent, so that c/bench.c computes exactly the same).
export function nearestRank(sorted, percent) {
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

// Plain numbers (ms, counts), ascending copy.
export const ascending = (values) => Float64Array.from(values).sort();

// Percentiles of plain numbers, e.g. percentiles(latencies, [50, 99]) → { p50, p99, max }.
export function percentiles(values, ranks) {
  const sorted = ascending(values);
  const out = {};
  for (const rank of ranks) out[`p${rank}`] = nearestRank(sorted, rank);
  out.max = sorted[sorted.length - 1];
  return out;
}

export const median = (values) => nearestRank(ascending(values), 50);

// Milliseconds between two process.hrtime.bigint() readings (CLOCK_MONOTONIC, the same clock in
// every process of the machine, so readings of two processes can be subtracted).
export const msBetween = (from, to) => Number(BigInt(to) - BigInt(from)) / 1e6;

// One JSON object per line on stdout: what the suite's runner parses.
export function printJsonLine(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
