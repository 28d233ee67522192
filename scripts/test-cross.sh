#!/usr/bin/env bash
# The Rust and C suites built for another target and run on this machine:
#   scripts/test-cross.sh musl      x86_64-unknown-linux-musl, dynamically linked against musl
#   scripts/test-cross.sh aarch64   aarch64-unknown-linux-gnu, run by qemu-aarch64 (binfmt_misc)
#   scripts/test-cross.sh windows   x86_64-pc-windows-gnu, built by mingw-w64, run by wine; its C
#                                   suite is tests/c/windows/run.sh, and the Node suite also
#                                   runs, under a Windows node.exe (tests/node/run.sh windows)
# The standard library is built from source with Debian's Rust (scripts/cross/toolchain.sh),
# everything under target/cross/. The Rust suite is `cargo test` of the core crate (unit and
# integration tests, whose workers are programs of the same target); the C suite is
# tests/c/run.sh against that target's shared and static library, compiled by its C compiler.
# Each prints its summary line; the counts go into the test command's.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/cross/toolchain.sh

case "${1:-}" in
  musl) triple=x86_64-unknown-linux-musl c_env=(CC=musl-gcc) ;;
  aarch64) triple=aarch64-unknown-linux-gnu c_env=(CC=aarch64-linux-gnu-gcc) ;;
  windows) triple=x86_64-pc-windows-gnu ;;
  *) echo "usage: $0 musl|aarch64|windows" >&2; exit 2 ;;
esac
# The tests of the host's build, by name, before the environment switches to the target: the
# Windows run says how many of them are compiled out there (Unix-only mechanisms).
rust_crates=(-p session-write-lock -p session-write-lock-c -p swl-test-worker)
list_tests() { cargo test "${rust_crates[@]}" -q -- --list --format terse 2>/dev/null | grep ': test$' | sort -u; }
if [ "$1" = windows ]; then
  host_tests=$(mktemp)
  trap 'rm -f "$host_tests"' EXIT
  list_tests >"$host_tests"
fi
if ! swl_cross_env "$triple"; then
  swl_skip "$triple suites" "this machine cannot run $triple programs (binfmt_misc needs root; wine needs scripts/setup.sh)"
  exit 0
fi
# The static C programs link the archive's unwinder from musl-sys/ (see swl_cross_musl).
[ "$1" = musl ] && c_env+=(LDFLAGS="-L$SWL_MUSL_SYS")
# The C suite builds in the Rust suite's target directory, so the standard library is built
# once per target (the library's own dependency features get their own artifacts there).

# strace injects faults into Linux programs only (the Windows build's tests compile those out).
[ "$1" = windows ] || swl_need "fault injection in the Rust tests" strace || exit 1
# wine_run_counted SUITE CMD... — swl_run_counted for tests run by wine. Their output goes
# through a file (shown as it comes), not a pipe: a Windows process a test leaves running keeps
# its inherited pipe open, and the suite would never end. Such a leftover (any process of this
# prefix but wine's own services) is named, ended by its pid and counted as a failure.
wine_run_counted() {
  local suite=$1 log status=0 pid tail_pid left
  shift
  log=$(mktemp)
  "$@" >"$log" 2>&1 &
  pid=$!
  tail -n +1 -f --pid="$pid" "$log" &
  tail_pid=$!
  wait "$pid" || status=$?
  wait "$tail_pid" || true
  swl_count_lines "$suite" "$log" "$status"
  rm -f "$log"
  left=$(grep -lzx "WINEPREFIX=$WINEPREFIX" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 |
    while read -r p; do
      args=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
      case "$args" in *wineserver* | 'C:\windows\system32\'*) ;; *) echo "$p $args" ;; esac
    done)
  if [ -n "$left" ]; then
    echo "!!! $suite left Windows processes running (ended now): $left !!!" >&2
    cut -d' ' -f1 <<<"$left" | xargs kill 2>/dev/null || true
    swl_record "$suite: processes left running" 0 1 0
    return 1
  fi
  return "$status"
}

status=0
libtest_args=()
if [ "$1" = windows ]; then
  # cbindgen (in header_fresh) runs `cargo metadata`, a Linux program wine cannot start; the
  # committed header it checks is the same text for every target, checked by the rust stage.
  echo "== left out under wine: header_is_fresh (it runs the host's cargo; the rust stage checks the header)"
  libtest_args=(-- --skip header_is_fresh)
fi
# Every crate but the Node addon's (its tests are the Node suite's); the worker's crate
# builds the worker the core's tests start.
run_counted=swl_run_counted
[ "$1" = windows ] && run_counted=wine_run_counted
"$run_counted" "Rust tests ($triple)" cargo test --no-fail-fast "${rust_crates[@]}" \
  "${libtest_args[@]}" || status=1
if [ "$1" = windows ]; then
  out=$(comm -23 "$host_tests" <(list_tests) | wc -l)
  echo "== $out tests of the Linux build are compiled out on Windows (Unix-only mechanisms; their files say which)"
fi
# Each records its own counts.
if [ "$1" = windows ]; then
  bash tests/c/windows/run.sh || status=1
  bash tests/node/run.sh windows || status=1
else
  env "${c_env[@]}" bash tests/c/run.sh || status=1
fi
exit "$status"
