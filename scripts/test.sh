#!/usr/bin/env bash
# Runs every test suite: formatting and lints, Rust (unit, property and multi-process
# integration), C (against the shared and the static library, under valgrind), Node (against
# the built addon), and the cross-language reliability run (storm, hostile files, compromise).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== Rust tests"
cargo test --workspace
for suite in tests/c/run.sh tests/node/run.sh tests/reliability/run.sh; do
  echo "== $suite"
  bash "$suite"
done
