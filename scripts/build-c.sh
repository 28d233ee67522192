#!/usr/bin/env bash
# Builds the C library (libsession_write_lock.so and .a) and writes pkg-config files for it:
#   scripts/build-c.sh            debug build   -> target/debug/
#   scripts/build-c.sh --release  release build -> target/release/
# In that directory: session_write_lock.pc (link the shared library) and
# session_write_lock-static.pc (link the static archive), both pointing at this checkout's
# include/ and that directory. Use: PKG_CONFIG_PATH=target/release pkg-config --cflags --libs session_write_lock
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"

profile=debug
cargo_args=(build --lib)
case "${1:-}" in
  "") ;;
  --release) profile=release; cargo_args+=(--release) ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

cargo "${cargo_args[@]}"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
libdir="$target_dir/$profile"
version="$(cargo pkgid -p session-write-lock | sed 's/.*[#@]//')"
# The system libraries the Rust staticlib needs, as printed by
#   cargo rustc --lib --crate-type staticlib -- --print native-static-libs
# (Linux/glibc; the shared library records its own dependencies).
native_static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

write_pc() { # name libs libs_private
  cat > "$libdir/$1.pc" <<PC
prefix=$root
includedir=\${prefix}/include
libdir=$libdir

Name: $1
Description: Cross-process session-file lock (C API of session-write-lock)
Version: $version
Cflags: -I\${includedir}
Libs: $2
Libs.private: $3
PC
}

write_pc session_write_lock '-L${libdir} -lsession_write_lock' "$native_static_libs"
write_pc session_write_lock-static "\${libdir}/libsession_write_lock.a $native_static_libs" ""
echo "wrote $libdir/session_write_lock.pc and $libdir/session_write_lock-static.pc"
