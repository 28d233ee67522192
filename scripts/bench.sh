#!/usr/bin/env bash
# Measures session-write-lock side by side with what a user would otherwise use (the TypeScript
# protocol, proper-lockfile, liblockfile, the raw syscall floor) and regenerates BENCHMARKS.md:
#   ./scripts/bench.sh
#   ./scripts/bench.sh --only proper-lockfile   only session-write-lock/proper-lockfile beside
#       proper-lockfile itself (cycle, hand-off, dead holder, blocked event loop), replacing that
#       group's records in benches/results.jsonl and keeping the rest (a few minutes)
# Installs the baselines (benches/setup.sh), builds everything in release mode, runs the suite
# (benches/run.mjs) into benches/results.jsonl and writes BENCHMARKS.md from it
# (benches/report.mjs). The benchmarks run in a fresh directory under $TMPDIR (default /tmp);
# the page records its filesystem.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

only=()
case "${1:-}" in
  "") ;;
  --only) [ "${2:-}" = proper-lockfile ] || { echo "usage: $0 [--only proper-lockfile]" >&2; exit 2; }
    only=(--only proper-lockfile) ;;
  *) echo "usage: $0 [--only proper-lockfile]" >&2; exit 2 ;;
esac

say "baselines (benches/setup.sh)"
bash benches/setup.sh

say "release builds"
if [ ${#only[@]} -eq 0 ]; then
  cargo build --release --bins
  bash scripts/build-c.sh --release
  cargo bench --bench rust_cycle --no-run
  cargo bench --bench rust_waiters --no-run
fi
bash scripts/build-node.sh release
[ ${#only[@]} -gt 0 ] || bash benches/c/build.sh swl target/release

# The package as a user gets it, with the release addon just built, in a private copy: a debug
# build of npm/ by someone else meanwhile must not change what is measured.
package="target/bench/npm"
rm -rf "${package}"
mkdir -p "${package}"
node -e 'for (const f of require("./npm/package.json").files) console.log(f)' |
  while read -r file; do cp "npm/${file}" "${package}/"; done
cp npm/package.json "${package}/"
# Where the loader looks first (npm/native.js): next to index.js.
cp npm/session-write-lock.linux-x64-gnu.node "${package}/"
export SWL_PACKAGE="${package}"

say "benchmarks (benches/run.mjs)"
status=0
node benches/run.mjs "${only[@]}" benches/results.jsonl || status=$?

say "BENCHMARKS.md (benches/report.mjs)"
node benches/report.mjs benches/results.jsonl BENCHMARKS.md || status=$?
exit "${status}"
