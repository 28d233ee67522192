#!/usr/bin/env bash
# tests/readme/block.sh LANG — prints the code block of LANG (js, c, sh) in README.md's
# "Quickstart" section as written there, so that the suites run what the README shows (the Rust
# block runs as a doctest: src/lib.rs includes README.md). Fails (exit 1) without such a block.
set -euo pipefail
cd "$(dirname "$0")/../.."
awk -v fence='```'"${1:?usage: $0 LANG}" '
  /^## / { quickstart = ($0 == "## Quickstart") }
  quickstart && !inside && $0 == fence { inside = 1; next }
  inside && /^```/ { found = 1; exit }
  inside { print }
  END { exit found ? 0 : 1 }
' README.md
