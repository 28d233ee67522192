#!/usr/bin/env bash
# The README's demo: builds the Rust crate with the session-lock CLI, the C library and the
# Node addon, then runs the gateway restart demo (examples/gateway/demo.mjs) and the file-lock
# demo (examples/gateway/file-lock-demo.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -p session-write-lock
bash scripts/build-c.sh
bash scripts/build-node.sh
node examples/gateway/demo.mjs
node examples/gateway/file-lock-demo.mjs
