#!/usr/bin/env bash
# The reliability run: Rust, C and Node processes on one lock when things go wrong.
#   tests/reliability/run.sh           default run (well under a minute)
#   tests/reliability/run.sh --soak    the long storm (≥ 20,000 acquisitions); or SWL_SOAK=1
# Builds the library, the Rust worker, the Node addon and the C worker (tests/c/storm_worker.c),
# then runs the cross-language storm with SIGKILLed holders, hostile lock files through C and
# Node, and compromised locks through C and Node. The Rust-only parts (pid namespaces, faults
# on disk) are tests/containers.rs and tests/faults.rs, run by `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd -P)"

storm_args=()
for arg in "$@"; do
  case "$arg" in
    --soak) storm_args+=(--soak) ;;
    *) echo "usage: $0 [--soak]" >&2; exit 2 ;;
  esac
done

source scripts/lib.sh
if ! command -v node >/dev/null; then
  swl_skip "the reliability run" "node is not installed"
  exit 1 # never green without having run
fi

bash scripts/build-c.sh >/dev/null
cargo build -p swl-test-worker
bash scripts/build-node.sh

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
export SWL_TARGET_DIR="$target_dir"
libdir="$target_dir/debug"
mkdir -p "$libdir/reliability"
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror -pedantic -D_GNU_SOURCE -g -O1 -I"$root/include" \
  tests/c/storm_worker.c -o "$libdir/reliability/storm_worker" \
  -L"$libdir" -lsession_write_lock -Wl,-rpath,"$libdir"

# Each part ends with "<part>: N passed, 0 failed"; the counts go to the test command's summary.
swl_run_counted "reliability storm" node tests/reliability/storm.mjs "${storm_args[@]}"
swl_run_counted "reliability hostile files" node tests/reliability/hostile.mjs
swl_run_counted "reliability compromise" node tests/reliability/compromise.mjs
echo "== reliability run passed"
