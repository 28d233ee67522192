#!/usr/bin/env bash
# Builds the C library (crate bindings/c: libsession_write_lock.so and .a) in the target
# directory, for use from this checkout (tests, benchmarks):
#   scripts/build-c.sh            debug build   -> target/debug/
#   scripts/build-c.sh --release  release build -> target/release/
# Also links libsession_write_lock.so.0 (the SONAME) to the .so there, so programs linked with
# -L<dir> -lsession_write_lock -Wl,-rpath,<dir> find it at run time. To install the library
# with its header and pkg-config files, use scripts/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"

profile=debug
cargo_args=(build -p session-write-lock-c)
case "${1:-}" in
  "") ;;
  --release) profile=release; cargo_args+=(--release) ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

cargo "${cargo_args[@]}"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
libdir="$target_dir/$profile"
if [ -f "$libdir/libsession_write_lock.so" ]; then
  soname="$(cargo pkgid -p session-write-lock-c | sed 's/.*[#@]//; s/\..*//')"
  ln -sfn libsession_write_lock.so "$libdir/libsession_write_lock.so.$soname"
fi
echo "built $libdir/libsession_write_lock.{so,a}"
