#!/usr/bin/env bash
# The Node suite: builds the addon, type-checks the TypeScript example against the package's
# typings, then runs every tests/node/*.test.mjs against the real addon (a test that takes over
# 60 s fails instead of hanging; the counts go to the test command's summary).
#   tests/node/run.sh            against npm/'s addon (scripts/build-node.sh)
#   tests/node/run.sh portable   the same tests against an addon built with the core's
#                                `portable` feature (scripts/build-node.sh portable), loaded
#                                through SESSION_WRITE_LOCK_NATIVE_PATH; npm/'s is untouched
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

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
  *) echo "usage: $0 [portable]" >&2; exit 2 ;;
esac
if [ ! -d tests/node/fs-safe/node_modules/@openclaw/fs-safe ]; then
  echo "!!! the file-lock interop tests need @openclaw/fs-safe in tests/node/fs-safe/: run scripts/setup.sh first !!!" >&2
  exit 1
fi
if [ ! -d tests/node/proper-lockfile/node_modules/proper-lockfile ]; then
  echo "!!! the proper-lockfile interop tests need proper-lockfile in tests/node/proper-lockfile/: run scripts/setup.sh first !!!" >&2
  exit 1
fi
echo "== node --test tests/node/"
swl_run_counted "$suite" node --test --test-timeout=60000 tests/node/
