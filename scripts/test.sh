#!/usr/bin/env bash
# The test command. First scripts/setup.sh installs what the suites need (saying what and why),
# then the stages run, in this order:
#   fmt              cargo fmt --check
#   clippy           cargo clippy --workspace --all-targets -D warnings
#   rust             cargo test --workspace: unit, property and multi-process integration tests
#   fuzz             the fuzz target builds (not run)
#   c                C against the installed shared and static library, both also under valgrind
#   node             node --test tests/node/ against the built addon
#   reliability      Rust, C and Node processes on one lock: storm, hostile files, compromise
#   package          the npm packages installed by name through a local registry (verdaccio)
#   faultinject      crash points and injected errors under strace, from C and from Node
#   musl             the Rust and C suites for x86_64-unknown-linux-musl
#   aarch64          the Rust and C suites for aarch64-unknown-linux-gnu under qemu-aarch64
#   clippy-portable  clippy with `--cfg swl_portable` (the code macOS and FreeBSD run)
#   rust-portable    the Rust suite again with `swl_portable`
#   node-portable    the Node suite again against a `swl_portable` addon
#   targets          cargo check + clippy of every crate for macOS, FreeBSD and Windows (msvc)
# and, only when named with --only (not yet part of the gate: docs/PROTOCOL.md, "Platforms"):
#   windows          the Rust, C and Node suites for x86_64-pc-windows-gnu under wine
# Usage:
#   scripts/test.sh                the whole gate (what CI and README's second command run)
#   scripts/test.sh --quick        fmt, clippy, rust, c, node on the host (a few minutes warm)
#   scripts/test.sh --only STAGE…  the named stages (with the setup they need), `windows` too
# Every stage runs even when an earlier one failed, under a time limit (a hang ends as a
# failure, not a stalled run), and must reach a minimum number of tests (a suite that silently
# ran nothing fails). Each prints its wall time; the end lists every stage's time, count and
# result, then one line over all: "N passed, N failed, N skipped", where a test is one cargo
# test, one node --test test, one C check (counted once, however many builds ran it) or one
# step of the scripted suites. Exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

all_stages=(fmt clippy rust fuzz c node reliability package faultinject musl aarch64
  clippy-portable rust-portable node-portable targets)
extra_stages=(windows)
quick_stages=(fmt clippy rust c node)
stages=("${all_stages[@]}") setup_scope=all
case "${1:-}" in
  "") ;;
  --quick) stages=("${quick_stages[@]}") setup_scope=host ;;
  --only)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 --only STAGE…  (stages: ${all_stages[*]})" >&2; exit 2; }
    stages=("$@")
    for s in "${stages[@]}"; do
      [[ " ${all_stages[*]} ${extra_stages[*]} " == *" $s "* ]] ||
        { echo "no stage '$s' (stages: ${all_stages[*]} ${extra_stages[*]})" >&2; exit 2; }
      [ "$s" != windows ] || setup_scope=windows
    done
    ;;
  *) echo "usage: $0 [--quick | --only STAGE…]" >&2; exit 2 ;;
esac

SWL_SUMMARY="$(mktemp)"
times="$(mktemp)"
export SWL_SUMMARY
# The core's portable code (docs/PROTOCOL.md, Platforms), built in its own target directory.
portable() {
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/portable" RUSTFLAGS="--cfg swl_portable" \
    RUSTDOCFLAGS="--cfg swl_portable" "$@"
}
# A stage runs in a child bash under `timeout`, which needs these.
export -f swl_run_counted swl_count_lines swl_record portable
started=$SECONDS
trap 'report' EXIT
report() {
  echo "== stages (wall time, tests counted, result)"
  awk -F'\t' '{ printf "  %-16s %7s  %-14s %s\n", $1, $2, $3, $4 }' "$times"
  echo "== all stages, $((SECONDS - started))s"
  swl_summary "$SWL_SUMMARY"
  rm -f "$SWL_SUMMARY" "$times"
}

failed=()

# stage NAME MIN LIMIT CMD... — runs CMD under a time limit. MIN is the least number of tests
# the stage must count (what it recorded with swl_record), or "-" for a step that passes or
# fails as one (counted as one test). A stage that fails without recording a failure (it
# crashed, timed out, or did not build) counts as one failure.
stage() {
  local name=$1 min=$2 limit=$3 status=0 begin=$SECONDS lines counts passed fails result
  shift 3
  [[ " ${stages[*]} " == *" $name "* ]] || return 0
  echo "== [$name] $*"
  lines=$(wc -l <"$SWL_SUMMARY")
  timeout --kill-after=30 "$limit" bash -c '"$@"' _ "$@" || status=$?
  counts=$(tail -n +$((lines + 1)) "$SWL_SUMMARY" | awk -F'\t' '{ p += $2; f += $3 } END { print p + 0, f + 0 }')
  read -r passed fails <<<"$counts"
  if [ "$min" = - ]; then
    [ "$status" = 0 ] && swl_record "$name" 1 0 0 || swl_record "$name" 0 1 0
    passed=1 min=1
  elif [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "!!! [$name] did not finish within $limit: stopped !!!" >&2
    swl_record "$name" 0 1 0
  elif [ "$status" != 0 ] && [ "$fails" = 0 ]; then
    swl_record "$name" 0 1 0
  elif [ "$passed" -lt "$min" ]; then
    echo "!!! [$name] counted $passed passing tests, at least $min expected: tests went missing !!!" >&2
    swl_record "$name" 0 1 0
    status=1
  fi
  if [ "$status" = 0 ]; then result=ok; else result=FAILED; failed+=("$name"); fi
  echo "== [$name] $result in $((SECONDS - begin))s"
  printf '%s\t%ss\t%s\t%s\n' "$name" "$((SECONDS - begin))" "$passed (≥ $min)" "$result" >>"$times"
}

# Setup failures are failures of the run; the stages still run (those that lack a tool say so).
echo "== [setup] scripts/setup.sh $setup_scope"
if bash scripts/setup.sh "$setup_scope"; then swl_record setup 1 0 0; else swl_record setup 0 1 0; failed+=(setup); fi

stage fmt - 5m cargo fmt --all -- --check
stage clippy - 20m cargo clippy --workspace --all-targets -- -D warnings
stage rust 198 25m swl_run_counted "Rust tests" cargo test --workspace --no-fail-fast
# Its own workspace and lockfile; libFuzzer itself is C++.
stage fuzz - 15m cargo build --manifest-path fuzz/Cargo.toml --target-dir "${CARGO_TARGET_DIR:-target}/fuzz"
stage c 664 15m bash tests/c/run.sh
stage node 190 15m bash tests/node/run.sh
stage reliability 180 10m bash tests/reliability/run.sh
stage package 44 15m bash tests/package/run.sh
stage faultinject 470 20m bash tests/faultinject/run.sh
stage musl 812 25m bash scripts/test-cross.sh musl
stage aarch64 812 40m bash scripts/test-cross.sh aarch64
# The Windows suites, then the install test with the win32 layout (in a fresh environment: the
# suites' cross environment would build its Linux parts for Windows).
stage windows 232 45m bash -c 'status=0; bash scripts/test-cross.sh windows || status=1
  bash tests/package/run.sh --win32 || status=1; exit "$status"'
stage clippy-portable - 20m portable cargo clippy --workspace --all-targets -- -D warnings
stage rust-portable 191 25m portable swl_run_counted "Rust tests (portable)" \
  cargo test --workspace --no-fail-fast
stage node-portable 186 15m bash tests/node/run.sh portable
stage targets 3 30m bash scripts/check-targets.sh

if [ ${#failed[@]} -gt 0 ]; then
  echo "!!! failed: ${failed[*]}" >&2
  exit 1
fi
