#!/usr/bin/env bash
# The Node suite: builds the addon, type-checks the TypeScript example against the package's
# typings, then runs every tests/node/*.test.mjs against the real addon (a test that takes over
# 60 s fails instead of hanging; the counts go to the test command's summary).
#   tests/node/run.sh            against npm/'s addon (scripts/build-node.sh)
#   tests/node/run.sh portable   the same tests against an addon built with the core's
#                                `portable` feature (scripts/build-node.sh portable), loaded
#                                through SESSION_WRITE_LOCK_NATIVE_PATH; npm/'s is untouched
#   tests/node/run.sh windows    the same tests under a Windows node.exe in wine, against the
#                                release addon for x86_64-pc-windows-gnu (napi's win32-x64-gnu,
#                                which npm/native.js finds by that name), except the files
#                                tests/node/windows-excluded.txt names, each with its reason;
#                                first checks that the addon is stripped and imports only
#                                Windows' own DLLs (not mingw-w64's, not node.exe)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

# windows_addon_checks SUITE — builds the win32-x64-gnu release addon into npm/ and checks (two
# tests) that it imports only system DLLs, so it loads on a bare Windows, and that it loads in a
# node.exe of another name (napi's dyn-symbols).
windows_addon_checks() {
  local suite=$1 addon=npm/session-write-lock.win32-x64-gnu.node headers imports
  bash scripts/build-node.sh release --target x86_64-pc-windows-gnu || { swl_record "$suite" 0 1 0; return 1; }
  # Whole outputs, then grep (under pipefail, grep -q's early exit would fail the pipeline).
  headers="$(x86_64-w64-mingw32-objdump -h -p "$addon")"
  imports="$(sed -n 's/.*DLL Name: //p' <<<"$headers" | sort -u)"
  echo "== $addon imports: $(tr '\n' ' ' <<<"$imports")"
  if grep -Eiq 'libgcc|libwinpthread|libstdc|node\.exe|libnode' <<<"$imports" ||
    grep -q ' \.debug_' <<<"$headers"; then
    echo "!!! $addon needs mingw-w64's runtime DLLs or node.exe, or is not stripped !!!" >&2
    swl_record "$suite" 0 1 0
    return 1
  fi
  # It also loads in a node.exe of another name (an embedding program, a renamed runtime).
  local renamed out
  renamed="$(dirname "$SWL_WINE_NODE")/renamed-runtime.exe" out="$(mktemp)"
  [ -f "$renamed" ] || ln "$SWL_WINE_NODE" "$renamed" 2>/dev/null || cp "$SWL_WINE_NODE" "$renamed"
  wine "$renamed" -e 'console.log(typeof require("./npm").acquireSessionWriteLock)' >"$out" 2>&1 || true
  if [ "$(tr -d '\r' <"$out")" != function ]; then
    echo "!!! $addon does not load in a renamed node.exe: $(cat "$out") !!!" >&2
    rm -f "$out"; swl_record "$suite" 1 1 0
    return 1
  fi
  rm -f "$out"
  echo "== $addon loads in $(basename "$renamed")"
  swl_record "$suite" 2 0 0
}

case "${1:-}" in
  "")
    bash scripts/build-node.sh
    echo "== tsc -p examples"
    npm/node_modules/.bin/tsc -p examples
    suite="Node tests"
    ;;
  portable)
    bash scripts/build-node.sh portable
    addons=("${CARGO_TARGET_DIR:-target}"/portable/session-write-lock.*.node)
    SESSION_WRITE_LOCK_NATIVE_PATH="$(realpath "${addons[0]}")"
    export SESSION_WRITE_LOCK_NATIVE_PATH
    # The tests below cannot tell the builds apart; the addon's imports can: the portable
    # code calls no inotify.
    swl_need "the check that the portable addon calls no inotify" nm || exit 1
    if nm -D --undefined-only "$SESSION_WRITE_LOCK_NATIVE_PATH" | grep -q inotify; then
      echo "!!! $SESSION_WRITE_LOCK_NATIVE_PATH uses inotify: not a portable build" >&2
      swl_record "Node tests (portable)" 0 1 0
      exit 1
    fi
    echo "== the tests load $SESSION_WRITE_LOCK_NATIVE_PATH (no inotify in its imports)"
    suite="Node tests (portable)"
    ;;
  windows)
    source scripts/cross/toolchain.sh
    triple=x86_64-pc-windows-gnu suite="Node tests (node.exe, $triple)"
    if [ "${CARGO_BUILD_TARGET:-}" != "$triple" ]; then swl_cross_env "$triple" || exit 1; fi
    windows_addon_checks "$suite" || exit 1
    ;;
  *) echo "usage: $0 [portable|windows]" >&2; exit 2 ;;
esac
if [ ! -d tests/node/fs-safe/node_modules/@openclaw/fs-safe ]; then
  echo "!!! the file-lock interop tests need @openclaw/fs-safe in tests/node/fs-safe/: run scripts/setup.sh first !!!" >&2
  exit 1
fi
if [ "${1:-}" != windows ]; then
  if [ ! -d tests/node/proper-lockfile/node_modules/proper-lockfile ]; then
    echo "!!! the proper-lockfile interop tests need proper-lockfile in tests/node/proper-lockfile/: run scripts/setup.sh first !!!" >&2
    exit 1
  fi
  echo "== node --test tests/node/"
  swl_run_counted "$suite" node --test --test-timeout=60000 tests/node/
  exit
fi

# node.exe cannot write to a Linux pipe under wine: its output goes to a file, shown afterwards.
list=tests/node/windows-excluded.txt
excluded="$(sed -n 's/^\([^# ][^ ]*\.test\.mjs\) .*/\1/p' "$list")"
files=()
for file in tests/node/*.test.mjs; do
  grep -qxF "$(basename "$file")" <<<"$excluded" || files+=("$file")
done
for name in $excluded; do
  [ -f "tests/node/$name" ] || { echo "!!! $list names $name, which does not exist !!!" >&2; swl_record "$suite" 0 1 0; exit 1; }
done
echo "== left out under node.exe ($list):"
sed -n 's/^[^#]/  &/p' "$list"
echo "== $(basename "$SWL_WINE_NODE") --test: ${#files[@]} files, under wine"
log="$(mktemp)"
status=0
wine "$SWL_WINE_NODE" --test --test-timeout=60000 "${files[@]}" >"$log" 2>&1 || status=$?
cat "$log"
swl_count_lines "$suite" "$log" "$status"
rm -f "$log"
# Files that should run on Windows and do not yet: loud skips (failures under CI).
pending="$(sed -n 's/^\([^ ]*\) pending \(.*\)/\1: \2/p' "$list")"
if [ -n "$pending" ]; then
  swl_skip "$(wc -l <<<"$pending") Node test files under node.exe" "not yet passing on Windows ($list): $(tr '\n' ';' <<<"$pending")"
fi
exit "$status"
