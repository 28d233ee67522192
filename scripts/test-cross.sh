#!/usr/bin/env bash
# The Rust and C suites built for another Linux target and run on this machine:
#   scripts/test-cross.sh musl      x86_64-unknown-linux-musl, dynamically linked against musl
#   scripts/test-cross.sh aarch64   aarch64-unknown-linux-gnu, run by qemu-aarch64 (binfmt_misc)
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
  *) echo "usage: $0 musl|aarch64" >&2; exit 2 ;;
esac
if ! swl_cross_env "$triple"; then
  swl_skip "$triple suites" "this machine cannot run $triple programs (binfmt_misc needs root)"
  exit 0
fi
# The static C programs link the archive's unwinder from musl-sys/ (see swl_cross_musl).
[ "$1" = musl ] && c_env+=(LDFLAGS="-L$SWL_MUSL_SYS")
# Tests that cannot run under user-mode emulation, and why: left out of the aarch64 run by name,
# printed loudly and counted as skipped (the x86_64 runs still run them).
qemu_excluded=(
  "without_proc_the_hostname_and_the_flock_decide|qemu-user answers /proc/self/stat itself: a tmpfs over /proc does not hide the emulated worker's own starttime"
  "leftover_files_of_an_earlier_iteration_of_this_process|under qemu its own starttime does not match (qemu-user emulates /proc/self/stat); passes on x86_64 glibc and musl"
  "a_fork_in_this_process_gives_the_child_nothing|its fork()ed child (of a process with the lock service's threads) dies before answering under qemu-user (since the event-driven service); passes on x86_64 glibc and musl"
  "a_fifo_at_the_lock_path_is_never_opened|its handshake reads the blocked open from /proc/PID/task/TID/syscall, where the kernel shows qemu's x86_64 system call, not aarch64's openat"
)
skips=()
if [ "$1" = aarch64 ]; then
  for entry in "${qemu_excluded[@]}"; do
    echo "!!! NOT RUN under qemu-aarch64: ${entry%%|*}: ${entry#*|} !!!" >&2
    skips+=(--skip "${entry%%|*}")
  done
  swl_record "tests not run under qemu-aarch64" 0 0 ${#qemu_excluded[@]}
fi
# The library alone resolves its dependencies without the dev-dependencies' features: in the
# Rust suite's target directory each suite would rebuild what the other built.
c_env+=(CARGO_TARGET_DIR="$CARGO_TARGET_DIR/c")

swl_apt_install "fault injection in tests/creation_fallbacks.rs" strace
status=0
# Every crate but the Node addon's (its tests are the Node suite's); the worker's crate
# builds the worker the core's tests start.
swl_run_counted "Rust tests ($triple)" cargo test --no-fail-fast \
  -p session-write-lock -p session-write-lock-c -p swl-test-worker -- "${skips[@]}" || status=1
if [ "$1" = aarch64 ] && [ "${SWL_AARCH64_C:-}" != 1 ]; then
  # Not run until understood: since the C tests added on 2026-11-28, test_api hangs under
  # qemu-aarch64 (its main thread waits on a futex, the lock service thread in ppoll); before
  # them the same suite passed here. SWL_AARCH64_C=1 runs it.
  echo "!!! NOT RUN: the C suite under qemu-aarch64 (hangs; SWL_AARCH64_C=1 runs it) !!!" >&2
  swl_record "C suite not run under qemu-aarch64" 0 0 1
else
  env "${c_env[@]}" bash tests/c/run.sh || status=1 # records its own counts
fi
exit "$status"
