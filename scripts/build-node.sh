#!/usr/bin/env bash
# Builds the Node addon and puts it where npm/index.js looks first:
#   scripts/build-node.sh            debug build (tests, demo)
#   scripts/build-node.sh release    optimised build (benchmarks)
# Also installs the package's dev dependencies (TypeScript, for the type-check) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-debug}"
case "$profile" in
  debug) cargo build -p session-write-lock-node ;;
  release) cargo build -p session-write-lock-node --release ;;
  *) echo "usage: $0 [debug|release]" >&2; exit 2 ;;
esac

platform="linux-x64-gnu"
dest="npm/npm/$platform/session-write-lock.$platform.node"
# Copy to a temporary name and rename, so a running node never loads a half-written file.
cp "target/$profile/libsession_write_lock_node.so" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "built $dest ($profile)"

if [ ! -d npm/node_modules ]; then
  (cd npm && npm ci --ignore-scripts --no-audit --no-fund)
fi
