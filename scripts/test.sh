#!/usr/bin/env bash
# Runs every test suite: formatting and lints, Rust (unit, property and multi-process
# integration), the fuzz target's build, C (against the shared and the static library, both
# under valgrind), Node (against the built addon), the cross-language reliability run
# (storm, hostile files, compromise), crash points and injected errors under strace
# (tests/faultinject), then the Rust and C suites again for x86_64 musl
# (scripts/test-cross.sh musl) and for arm64 glibc under qemu-aarch64
# (scripts/test-cross.sh aarch64), clippy, the Rust suite and the Node suite again with the
# core's `portable` feature (the code macOS and FreeBSD run, built in target/portable/), and
# cargo check + clippy of every crate for the macOS and FreeBSD targets
# (scripts/check-targets.sh). Every suite runs even when an earlier one failed; each
# prints its own summary, and the command ends with one line over all of them:
# "N passed, N failed, N skipped" (counted from what the suites printed). Exits non-zero when
# anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SWL_SUMMARY="$(mktemp)"
export SWL_SUMMARY
trap 'echo "== all suites"; swl_summary "$SWL_SUMMARY"; rm -f "$SWL_SUMMARY"' EXIT

failed=() # names of the suites that failed
failures_recorded() { awk -F'\t' '{ f += $3 } END { print f + 0 }' "$SWL_SUMMARY"; }

# check NAME CMD... — a step that passes or fails as a whole (one count).
check() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    swl_record "$name" 1 0 0
  else
    swl_record "$name" 0 1 0
    failed+=("$name")
  fi
}

# suite NAME SCRIPT [ARG...] — a suite script that records its own counts; if it fails without
# having recorded a failure (it crashed, or did not build), that counts as one.
suite() {
  local name=$1 before
  before=$(failures_recorded)
  echo "== $name"
  if ! bash "${@:2}"; then
    failed+=("$name")
    [ "$(failures_recorded)" != "$before" ] || swl_record "$name" 0 1 0
  fi
}

check "cargo fmt --check" cargo fmt --all -- --check
check "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
echo "== Rust tests"
swl_apt_install "fault injection in tests/creation_fallbacks.rs" strace
swl_run_counted "Rust tests" cargo test --workspace --no-fail-fast || failed+=("Rust tests")
# Built (not run): its own workspace and lockfile; libFuzzer itself is C++.
swl_apt_install "libFuzzer, linked into the fuzz target, is C++" g++
check "fuzz target builds" cargo build --manifest-path fuzz/Cargo.toml --target-dir "${CARGO_TARGET_DIR:-target}/fuzz"
suite "C suite" tests/c/run.sh
suite "Node suite" tests/node/run.sh
suite "reliability run" tests/reliability/run.sh
suite "package install test" tests/package/run.sh
suite "crash points and injected errors" tests/faultinject/run.sh
suite "x86_64 musl suites" scripts/test-cross.sh musl
suite "arm64 suites under qemu-aarch64" scripts/test-cross.sh aarch64
# The portable code (src/sys/unix.rs and poll.rs in place of Linux's O_TMPFILE, O_PATH, inotify, pidfds)
# builds in its own target directory, so neither build invalidates the other's.
portable_target="${CARGO_TARGET_DIR:-target}/portable"
check "cargo clippy (portable)" env CARGO_TARGET_DIR="$portable_target" \
  cargo clippy --workspace --all-targets --features session-write-lock/portable -- -D warnings
echo "== Rust tests (portable)"
swl_run_counted "Rust tests (portable)" env CARGO_TARGET_DIR="$portable_target" \
  cargo test --workspace --no-fail-fast --features session-write-lock/portable ||
  failed+=("Rust tests (portable)")
suite "Node suite (portable)" tests/node/run.sh portable
suite "macOS and FreeBSD builds (cargo check + clippy)" scripts/check-targets.sh

if [ ${#failed[@]} -gt 0 ]; then
  echo "!!! failed: ${failed[*]}" >&2
  exit 1
fi
