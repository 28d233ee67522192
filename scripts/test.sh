#!/usr/bin/env bash
# Runs every test suite: formatting and lints, Rust (unit, property and multi-process
# integration), C (against the shared and the static library, under valgrind), Node (against
# the built addon), and the cross-language reliability run (storm, hostile files, compromise).
# Ends with one line over every suite: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SWL_SUMMARY="$(mktemp)"
export SWL_SUMMARY
trap 'echo "== all suites"; swl_summary "$SWL_SUMMARY"; rm -f "$SWL_SUMMARY"' EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== Rust tests"
cargo test --workspace
for suite in tests/c/run.sh tests/node/run.sh tests/reliability/run.sh tests/package/run.sh; do
  echo "== $suite"
  bash "$suite"
done
