#!/usr/bin/env bash
# Builds the C library and installs it under a prefix, like `make install`:
#   scripts/install.sh --prefix /usr/local          release build, stripped (the default prefix)
#   scripts/install.sh --prefix "$HOME/.local" --debug   debug build, unstripped (the C suite)
#   DESTDIR=/tmp/stage scripts/install.sh --prefix /usr    staged install (packagers)
# Installs, under PREFIX:
#   include/session_write_lock.h
#   lib/libsession_write_lock.so.X.Y.Z  + the symlinks .so.X (the SONAME) and .so
#     (macOS: libsession_write_lock.X.Y.Z.dylib, .X.dylib (the install name), .dylib)
#   lib/libsession_write_lock.a
#   lib/pkgconfig/session_write_lock.pc         shared: -L${libdir} -lsession_write_lock
#   lib/pkgconfig/session_write_lock-static.pc  static: ${libdir}/libsession_write_lock.a by
#                                               path, then the system libraries it needs;
#                                               Cflags define SWL_STATIC
# The .pc files are written by this script, for PREFIX. The static one names the archive by
# path because -lsession_write_lock would pick the .so next to it; its system libraries are
# the list rustc prints for the archive on this system (--print native-static-libs).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"

prefix=/usr/local
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--prefix DIR] [--debug]" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "--prefix must be an absolute path, got '$prefix'" >&2; exit 2 ;; esac

cargo_args=(rustc -p session-write-lock-c --lib)
[ "$profile" = release ] && cargo_args+=(--release)
# The same build as `cargo build`, plus the note that lists the archive's system libraries.
build_log="$(cargo "${cargo_args[@]}" -- --print native-static-libs 2>&1)" || {
  echo "$build_log" >&2; exit 1; }
native_libs="$(sed -n 's/.*native-static-libs: //p' <<<"$build_log" | tail -n 1)"
if [ -z "$native_libs" ]; then
  echo "$build_log" >&2
  echo "install.sh: rustc did not report the static library's system libraries" >&2; exit 1
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
built="$target_dir/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}$profile"
version="$(cargo pkgid -p session-write-lock-c | sed 's/.*[#@]//')"
major="${version%%.*}"

dest="${DESTDIR:-}$prefix"
install -d "$dest/include" "$dest/lib/pkgconfig"
install -m 0644 include/session_write_lock.h "$dest/include/"
install -m 0644 "$built/libsession_write_lock.a" "$dest/lib/"
if [ "$(uname -s)" = Darwin ]; then
  real="libsession_write_lock.$version.dylib" soname="libsession_write_lock.$major.dylib"
  link="libsession_write_lock.dylib"
  install -m 0755 "$built/libsession_write_lock.dylib" "$dest/lib/$real"
else
  real="libsession_write_lock.so.$version" soname="libsession_write_lock.so.$major"
  link="libsession_write_lock.so"
  install -m 0755 "$built/libsession_write_lock.so" "$dest/lib/$real"
fi
# A release install is stripped: the build keeps debug info (profile.release.debug), and the
# archive's objects carry the LLVM bitcode rustc embeds for LTO (.llvmbc), which no C linker
# reads: 8 MB of the shared library and 30 MB of the archive. `-S` drops debug sections, `-x`
# local symbols; exported and archive symbols stay. STRIP names another target's strip.
if [ "$profile" = release ]; then
  "${STRIP:-strip}" -S -x "$dest/lib/$real"
  archive_flags=(-S)
  [ "$(uname -s)" = Darwin ] || archive_flags+=(--remove-section=.llvmbc --remove-section=.llvmcmd)
  "${STRIP:-strip}" "${archive_flags[@]}" "$dest/lib/libsession_write_lock.a"
fi
ln -sfn "$real" "$dest/lib/$soname"
ln -sfn "$soname" "$dest/lib/$link"

write_pc() { # name libs [cflags]
  cat >"$dest/lib/pkgconfig/$1.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: $1
Description: Cross-process session-file lock (C API of session-write-lock)
URL: https://github.com/session-write-lock/session-write-lock
Version: $version
Cflags: -I\${includedir}${3:+ $3}
Libs: $2
PC
}
write_pc session_write_lock '-L${libdir} -lsession_write_lock'
# SWL_STATIC: the header then declares the functions without dllimport (Windows; see the header).
write_pc session_write_lock-static "\${libdir}/libsession_write_lock.a $native_libs" -DSWL_STATIC

echo "installed session-write-lock $version ($profile) into $dest:"
(cd "$dest" && ls -l include/session_write_lock.h lib/libsession_write_lock* lib/pkgconfig/session_write_lock*.pc | sed 's/^/  /')
