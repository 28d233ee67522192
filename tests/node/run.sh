#!/usr/bin/env bash
# The Node suite: builds the addon, type-checks the TypeScript example against the package's
# typings, then runs every tests/node/*.test.mjs against the real addon.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/build-node.sh
echo "== tsc -p examples"
npm/node_modules/.bin/tsc -p examples
echo "== node --test tests/node/"
node --test tests/node/
