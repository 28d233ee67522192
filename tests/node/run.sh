#!/usr/bin/env bash
# The Node suite: builds the addon, type-checks the TypeScript example against the package's
# typings, then runs every tests/node/*.test.mjs against the real addon (a test that takes over
# 60 s fails instead of hanging; the counts go to the test command's summary).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

bash scripts/build-node.sh
echo "== tsc -p examples"
npm/node_modules/.bin/tsc -p examples
echo "== node --test tests/node/"
swl_run_counted "Node tests" node --test --test-timeout=60000 tests/node/
