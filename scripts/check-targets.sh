#!/usr/bin/env bash
# Checks that the core, C and Node crates build for targets whose programs cannot run here:
#   scripts/check-targets.sh [TRIPLE...]
#   (default: aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd
#    x86_64-pc-windows-msvc aarch64-pc-windows-msvc)
# For each target and crate, `cargo check --all-targets` and, once that passes,
# `cargo clippy --all-targets -- -D warnings`, with the standard library built from source
# (scripts/cross/toolchain.sh; cached under target/cross/). Prints one line per target,
# "TRIPLE: ok" or "TRIPLE: N errors (crate: …; …)", the compilers' output going to
# target/cross/check-logs/; exits non-zero if any target has errors.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/cross/toolchain.sh

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd
  x86_64-pc-windows-msvc aarch64-pc-windows-msvc)
# name=package; every one must exist (a renamed crate must be renamed here too).
crates=(core=session-write-lock c=session-write-lock-c node=session-write-lock-node)

# errors LOG — the number of compiler errors in LOG (not cargo's "could not compile" lines).
errors() { grep -E '^error(\[E[0-9]+\])?: ' "$1" | grep -cvE '^error: (could not compile|aborting)' || true; }

# blocker LOG PACKAGE — another package of the workspace that failed first, if any.
blocker() { sed -n "s/^error: could not compile \`\([^\`]*\)\`.*/\1/p" "$1" | grep -vx "$2" | head -n 1 || true; }

failed=0
for triple in "${targets[@]}"; do
  (
    swl_cross_env "$triple"
    logs="$CARGO_TARGET_DIR/check-logs"
    mkdir -p "$logs"
    total=0 notes=()
    for crate in "${crates[@]}"; do
      name=${crate%%=*} package=${crate#*=}
      if ! cargo pkgid -p "$package" >/dev/null 2>&1; then
        notes+=("$name: no crate $package in the workspace"); total=$((total + 1)); continue
      fi
      log="$logs/$triple-$name.log" step=check
      if cargo check -p "$package" --all-targets >"$log" 2>&1; then
        step=clippy
        cargo clippy -p "$package" --all-targets -- -D warnings >"$log" 2>&1 && { notes+=("$name: ok"); continue; }
      fi
      by=$(blocker "$log" "$package")
      if [ -n "$by" ]; then
        notes+=("$name: not checked, $by does not build")
      else
        n=$(errors "$log")
        [ "$n" -gt 0 ] || n=1 # failed without a compiler error (a build script, say)
        total=$((total + n))
        notes+=("$name: $step $n errors")
      fi
    done
    summary=$(IFS=';'; echo "${notes[*]}" | sed 's/;/; /g')
    if [ "$total" = 0 ] && ! grep -q 'does not build' <<<"$summary"; then
      echo "$triple: ok ($summary)"
      swl_record "check $triple" 1 0 0
    else
      echo "$triple: $total errors ($summary)"
      swl_record "check $triple" 0 1 0
      exit 1
    fi
  ) || failed=1
done
exit "$failed"
