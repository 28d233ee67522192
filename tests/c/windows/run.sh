#!/usr/bin/env bash
# The C suite on Windows: tests/c/windows/test_win.c, compiled by mingw-w64 with -std=c11
# -Wall -Wextra -Werror -pedantic, once against session_write_lock.dll (through its import
# library, the DLL next to the program as Windows looks for it) and once against the static
# library (with SWL_STATIC and the system libraries rustc names for it), both run under wine.
# Also: the header compiles alone and declares dllimport for the DLL and nothing with
# SWL_STATIC, the DLL program imports session_write_lock.dll and the static one does not,
# neither needs mingw-w64's own DLLs (libgcc_s, libwinpthread), and README.md's C quickstart
# builds and runs against both. Each run prints "N passed, 0 failed"; recorded once.
# Run by scripts/test-cross.sh windows (which sets up the target), or on its own.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/lib.sh
source scripts/cross/toolchain.sh
triple=x86_64-pc-windows-gnu
suite="c ($triple)"
if [ "${CARGO_BUILD_TARGET:-}" != "$triple" ]; then swl_cross_env "$triple" || exit 1; fi

build_log="$(cargo rustc -p session-write-lock-c --lib -- --print native-static-libs 2>&1)" || {
  echo "$build_log" >&2; swl_record "$suite" 0 1 0; exit 1; }
native_libs="$(sed -n 's/.*native-static-libs: //p' <<<"$build_log" | tail -n 1)"
built="$CARGO_TARGET_DIR/$triple/debug"
out="$(mktemp -d "${TMPDIR:-/tmp}/swl-c-windows.XXXXXX")"
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; swl_record "$suite" 0 1 0; exit 1; }

CC=x86_64-w64-mingw32-gcc
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude -Itests/c)
read -r -a static_libs <<<"$built/libsession_write_lock.a $native_libs"
shared_libs=("$built/libsession_write_lock.dll.a")
cp "$built/session_write_lock.dll" "$out/"

echo "== the header alone, and its declarations for the DLL and for the static library"
printf '#include <session_write_lock.h>\n#include <session_write_lock.h>\n' >"$out/alone.c"
"$CC" "${cflags[@]}" -fsyntax-only "$out/alone.c" || fail "the header does not compile alone"
# One line per declaration (cbindgen puts SWL_API on a line of its own before long ones).
declaration() { "$CC" "${cflags[@]}" "$@" -E "$out/alone.c" | tr '\n' ' ' | grep -o '[^;]*swl_acquire([^;]*'; }
dll_decl="$(declaration)" static_decl="$(declaration -DSWL_STATIC)"
grep -q 'dllimport' <<<"$dll_decl" || fail "swl_acquire is not dllimport: $dll_decl"
grep -q 'dllimport' <<<"$static_decl" && fail "with SWL_STATIC swl_acquire is still $static_decl"

echo "== build against the DLL and against the static library"
"$CC" "${cflags[@]}" tests/c/windows/test_win.c -o "$out/test_win_shared.exe" "${shared_libs[@]}"
"$CC" "${cflags[@]}" -DSWL_STATIC tests/c/windows/test_win.c -o "$out/test_win_static.exe" "${static_libs[@]}"
# Whole outputs, then grep (under pipefail, grep -q's early exit would fail the pipeline).
shared_imports="$(x86_64-w64-mingw32-objdump -p "$out/test_win_shared.exe" | sed -n 's/.*DLL Name: //p')"
static_imports="$(x86_64-w64-mingw32-objdump -p "$out/test_win_static.exe" | sed -n 's/.*DLL Name: //p')"
echo "imports: shared: $(echo $shared_imports) | static: $(echo $static_imports)"
grep -qx session_write_lock.dll <<<"$shared_imports" || fail "test_win_shared.exe does not import session_write_lock.dll"
grep -q session_write_lock <<<"$static_imports" && fail "test_win_static.exe imports the DLL"
dll_imports="$(x86_64-w64-mingw32-objdump -p "$out/session_write_lock.dll" | sed -n 's/.*DLL Name: //p')"
grep -Eqi 'libgcc|libwinpthread|libstdc' <<<"$shared_imports $static_imports $dll_imports" &&
  fail "a program or the DLL needs mingw-w64's runtime DLLs: $(echo $dll_imports)"

echo "== README.md's C quickstart"
bash tests/readme/block.sh c >"$out/quickstart.c"
"$CC" "${cflags[@]}" "$out/quickstart.c" -o "$out/quickstart_shared.exe" "${shared_libs[@]}"
"$CC" "${cflags[@]}" -DSWL_STATIC "$out/quickstart.c" -o "$out/quickstart_static.exe" "${static_libs[@]}"
for variant in shared static; do
  wine "$out/quickstart_$variant.exe" || fail "README.md's C quickstart ($variant) exited $?"
done

checks=""
for variant in shared static; do
  echo "== C tests on Windows ($variant library, under wine)"
  log="$(wine "$out/test_win_$variant.exe")" || { echo "$log"; fail "test_win_$variant.exe"; }
  echo "$log"
  n=$(sed -n 's/^\([0-9]*\) passed, 0 failed\r\{0,1\}$/\1/p' <<<"$log" | tail -n 1)
  if [ -z "$n" ] || { [ -n "$checks" ] && [ "$n" != "$checks" ]; }; then
    fail "this build reported '${n:-no count}' checks passed, the other $checks"
  fi
  checks=$n
done
swl_record "$suite" "$checks" 0 0
echo "== C suite on Windows: $checks checks, each passed against the DLL and the static library"
