#!/usr/bin/env bash
# Builds the Node addon with @napi-rs/cli and puts it where npm/native.js looks first
# (npm/session-write-lock.<platform>.node):
#   scripts/build-node.sh            debug build (tests, demo)
#   scripts/build-node.sh release    optimised, stripped build (benchmarks, the npm package);
#                                    the same as `npm run build` in npm/
#   scripts/build-node.sh release --target T [napi flags]   another target (release workflow)
#   scripts/build-node.sh portable   debug build with the core's `portable` feature, built in and
#                                    left at <target>/portable/session-write-lock.<platform>.node
#                                    (npm/'s addon is untouched; point SESSION_WRITE_LOCK_NATIVE_PATH
#                                    at it, as tests/node/run.sh portable does)
# Installs the package's dev dependencies (@napi-rs/cli, TypeScript, …) first when npm/node_modules
# is missing or older than npm/package-lock.json. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"
source scripts/lib.sh

profile="${1:-debug}"
shift || true
napi_args=(build --platform --no-js --manifest-path ../bindings/node/Cargo.toml "$@")
case "$profile" in
  debug) ;;
  release) napi_args+=(--release --strip) ;;
  # The core's portable code (docs/PROTOCOL.md, Platforms): a cfg, not a feature.
  portable) export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg swl_portable" ;;
  *) echo "usage: $0 [debug|release|portable]" >&2; exit 2 ;;
esac

swl_npm_package_deps

# napi writes into a staging directory; the rename below means a running node never loads a
# half-written file.
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
dest_dir=npm
if [ "$profile" = portable ]; then
  # Its own target directory (as the portable Rust suite's): the two builds never rebuild each
  # other's crates.
  target_dir="$target_dir/portable"
  napi_args+=(--target-dir "$target_dir")
  dest_dir="$target_dir"
fi
staging="$target_dir/napi/$profile"
mkdir -p "$staging"
(cd npm && node_modules/.bin/napi "${napi_args[@]}" --output-dir "$staging")
for built in "$staging"/session-write-lock.*.node; do
  dest="$dest_dir/$(basename "$built")"
  cp "$built" "$dest.tmp"
  mv "$dest.tmp" "$dest"
  echo "built $dest ($profile, $(du -k "$dest" | cut -f1) KiB)"
done
