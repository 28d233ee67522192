#!/usr/bin/env bash
# The C suite: builds the library (debug), then compiles tests/c/test_api.c and holder.c with
# -std=c11 -Wall -Wextra -Werror once against the shared library and once against the static
# one, runs both, and runs the shared build again under valgrind (definite leaks and memory
# errors fail). Each run prints "N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd -P)"

bash scripts/build-c.sh

target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
libdir="$target_dir/debug"
out="$libdir/c-tests"
mkdir -p "$out"

CC="${CC:-cc}"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -D_GNU_SOURCE -g -O1 -pthread)
if command -v pkg-config >/dev/null; then
  export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  read -r -a inc <<<"$(pkg-config --cflags session_write_lock)"
  read -r -a shared_libs <<<"$(pkg-config --libs session_write_lock)"
  read -r -a static_libs <<<"$(pkg-config --libs session_write_lock-static)"
else
  echo "note: pkg-config not found; using the flags of the .pc files directly"
  inc=(-I"$root/include")
  shared_libs=(-L"$libdir" -lsession_write_lock)
  static_libs=("$libdir/libsession_write_lock.a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
fi
shared_libs+=(-Wl,-rpath,"$libdir")

echo "== C header compiles alone (C11 pedantic$(command -v c++ >/dev/null && echo ', C++'))"
echo '#include "session_write_lock.h"' | "$CC" "${cflags[@]}" "${inc[@]}" -fsyntax-only -x c -
if command -v c++ >/dev/null; then
  echo '#include "session_write_lock.h"
int main() { swl_options o; swl_options_init(&o); return swl_status_str(SWL_OK) ? 0 : 1; }' |
    c++ -std=c++11 -Wall -Wextra -Werror "${inc[@]}" -fsyntax-only -x c++ -
fi

build() { # variant libs...
  local variant=$1; shift
  "$CC" "${cflags[@]}" "${inc[@]}" tests/c/holder.c -o "$out/holder_$variant" "$@"
  "$CC" "${cflags[@]}" "${inc[@]}" tests/c/test_api.c -o "$out/test_api_$variant" "$@"
}

echo "== build against the shared library"
build shared "${shared_libs[@]}"
echo "== build against the static library"
build static "${static_libs[@]}"
if ! ldd "$out/test_api_shared" | grep -q 'libsession_write_lock\.so'; then
  echo "FAIL: test_api_shared is not linked to libsession_write_lock.so" >&2; exit 1
fi
if ldd "$out/test_api_static" | grep -q 'libsession_write_lock\.so'; then
  echo "FAIL: test_api_static depends on libsession_write_lock.so" >&2; exit 1
fi

echo "== C tests (shared library)"
"$out/test_api_shared" "$out/holder_shared"
echo "== C tests (static library)"
"$out/test_api_static" "$out/holder_static"

if ! command -v valgrind >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing valgrind"
  apt-get update && apt-get install -y valgrind || echo "!!! installing valgrind failed" >&2
fi
if command -v valgrind >/dev/null; then
  echo "== C tests under valgrind (shared library)"
  # --child-silent-after-fork: the test's fork()ed children exit at once (the tests read their
  # verdicts through pipes); in a child, memory of the threads fork() did not copy looks lost.
  valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --child-silent-after-fork=yes \
    "$out/test_api_shared" "$out/holder_shared"
else
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!!! SKIPPED valgrind: not installed (install valgrind, or run as root to auto-install) !!!" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
fi
echo "== C suite passed"
