#!/usr/bin/env bash
# The C suite, as a user gets the library: scripts/install.sh installs it (debug build) into a
# temporary prefix; the C API tests (tests/c/api/*.c with check.c, one program: test_api) and
# holder.c are compiled with -std=c11 -Wall -Wextra -Werror with the flags pkg-config gives from
# that prefix, once against the shared library (session_write_lock.pc) and once against the
# static one (session_write_lock-static.pc). Both builds run, then run again under valgrind
# (definite leaks and memory errors fail). Also checks the SONAME and its symlinks, that the
# header compiles alone as C11 and as C++, and that README.md's C quickstart compiles with those
# flags and runs against both libraries. Each run prints "N passed, 0 failed"; the suite records
# N once (every run must report the same N).
# With CARGO_BUILD_TARGET, CC (and LDFLAGS) set, as scripts/test-cross.sh does, the same for
# another target, without valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

swl_need "the C suite (it links through pkg-config)" pkg-config || exit 1
[ -n "${CARGO_BUILD_TARGET:-}" ] || swl_need "the C suite (it runs under valgrind)" valgrind || exit 1

prefix="$(mktemp -d "${TMPDIR:-/tmp}/swl-c-prefix.XXXXXX")"
out="$prefix/c-tests"
trap 'rm -rf "$prefix"' EXIT
bash scripts/install.sh --debug --prefix "$prefix"
mkdir -p "$out"

version="$(cargo pkgid -p session-write-lock-c | sed 's/.*[#@]//')"
echo "== SONAME and symlinks"
soname="$(readelf -d "$prefix/lib/libsession_write_lock.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[ "$soname" = "libsession_write_lock.so.${version%%.*}" ] || {
  echo "FAIL: SONAME is '$soname'" >&2; exit 1; }
[ "$(readlink "$prefix/lib/libsession_write_lock.so.${version%%.*}")" = "libsession_write_lock.so.$version" ] &&
  [ "$(readlink "$prefix/lib/libsession_write_lock.so")" = "$soname" ] || {
  echo "FAIL: symlinks:" >&2; ls -l "$prefix/lib" >&2; exit 1; }

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists --print-errors session_write_lock session_write_lock-static
[ "$(pkg-config --modversion session_write_lock)" = "$version" ]
read -r -a inc <<<"$(pkg-config --cflags session_write_lock)"
read -r -a shared_libs <<<"$(pkg-config --libs session_write_lock)"
read -r -a static_libs <<<"$(pkg-config --static --libs session_write_lock-static)"
shared_libs+=(-Wl,-rpath,"$prefix/lib")
echo "pkg-config: ${inc[*]} | ${shared_libs[*]} | ${static_libs[*]}"

CC="${CC:-cc}"
read -r -a ldflags <<<"${LDFLAGS:-}"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -D_GNU_SOURCE -g -O1 -pthread)
echo "== C header compiles alone (C11 pedantic, C++11)"
echo '#include <session_write_lock.h>
#include <session_write_lock.h>' | "$CC" "${cflags[@]}" "${inc[@]}" -fsyntax-only -x c -
echo '#include <session_write_lock.h>
int main() { swl_options o; swl_options_init(&o); return swl_status_str(SWL_OK) ? 0 : 1; }' |
  c++ -std=c++11 -Wall -Wextra -Werror "${inc[@]}" -fsyntax-only -x c++ -

build() { # variant libs...
  local variant=$1; shift
  "$CC" "${cflags[@]}" "${inc[@]}" tests/c/holder.c -o "$out/holder_$variant" "${ldflags[@]}" "$@"
  "$CC" "${cflags[@]}" "${inc[@]}" tests/c/check.c tests/c/api/*.c -o "$out/test_api_$variant" "${ldflags[@]}" "$@"
}
echo "== build against the shared library"
build shared "${shared_libs[@]}"
echo "== build against the static library"
build static "${static_libs[@]}"
# Whole outputs, then grep: `cmd | grep -q` under pipefail fails when grep's early exit makes
# cmd die of SIGPIPE. ldd reads only the host's programs: another target's are checked by the
# libraries they name (readelf).
if [ -n "${CARGO_BUILD_TARGET:-}" ]; then
  shared_loads="$(readelf -d "$out/test_api_shared")" static_loads="$(readelf -d "$out/test_api_static")"
  want="(NEEDED).*\[$soname\]"
else
  shared_loads="$(ldd "$out/test_api_shared")" static_loads="$(ldd "$out/test_api_static")"
  want="$soname => $prefix/lib/$soname"
fi
if ! grep -q "$want" <<<"$shared_loads"; then
  echo "FAIL: test_api_shared does not load $prefix/lib/$soname:" >&2
  echo "$shared_loads" >&2; exit 1
fi
if grep -q 'libsession_write_lock\.so' <<<"$static_loads"; then
  echo "FAIL: test_api_static depends on libsession_write_lock.so" >&2; exit 1
fi

# README.md's C quickstart, as written there, builds against both libraries and runs.
echo "== README.md's C quickstart"
bash tests/readme/block.sh c >"$out/quickstart.c"
for variant in shared static; do
  libs=("${shared_libs[@]}")
  [ "$variant" = static ] && libs=("${static_libs[@]}")
  "$CC" "${cflags[@]}" "${inc[@]}" "$out/quickstart.c" -o "$out/quickstart_$variant" "${ldflags[@]}" "${libs[@]}"
  "$out/quickstart_$variant" || { echo "FAIL: README.md's C quickstart ($variant) exited $?" >&2; exit 1; }
done

# The same checks run against each build; they count once (a failure in any build fails it),
# and every build must report the same number.
suite="c${CARGO_BUILD_TARGET:+ ($CARGO_BUILD_TARGET)}" checks="" builds=0
run() { # title command...
  echo "== $1"; shift
  local log n
  log="$("$@")" || { echo "$log"; swl_record "$suite" 0 1 0; exit 1; }
  echo "$log"
  n=$(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' <<<"$log" | tail -n 1)
  if [ -z "$n" ] || { [ -n "$checks" ] && [ "$n" != "$checks" ]; }; then
    echo "FAIL: this build reported '${n:-no count}' checks passed, an earlier one $checks" >&2
    swl_record "$suite" 0 1 0; exit 1
  fi
  checks=$n builds=$((builds + 1))
}
# --child-silent-after-fork: the test's fork()ed children exit at once (the tests read their
# verdicts through pipes); in a child, memory of the threads fork() did not copy looks lost.
valgrind=(valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --child-silent-after-fork=yes)
for variant in shared static; do
  run "C tests ($variant library)" "$out/test_api_$variant" "$out/holder_$variant"
  if [ -z "${CARGO_BUILD_TARGET:-}" ]; then
    run "C tests ($variant library) under valgrind" "${valgrind[@]}" "$out/test_api_$variant" "$out/holder_$variant"
  fi
done
swl_record "$suite" "$checks" 0 0
echo "== C suite: $checks checks, each passed in all $builds builds"
