#!/usr/bin/env bash
# Crash points and injected errors (tests/faultinject/run.mjs), from C and from Node: one
# acquire + release SIGKILLed at every system call it makes, and failed with EINTR, EIO, ENOSPC,
# EACCES, ENOMEM at every one of the library's calls. Needs strace (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd -P)"
source scripts/lib.sh

swl_need "the crash-point and error-injection tests" strace || exit 1
if ! strace -f -qq -o /dev/null -e trace=getppid -e inject=getppid:error=EIO true 2>/dev/null; then
  swl_skip faultinject "strace cannot trace or inject here (no ptrace, or no seccomp-bpf)"
  exit 0
fi

bash scripts/build-c.sh >/dev/null
bash scripts/build-node.sh >/dev/null
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
libdir="$target_dir/debug"
victim="$libdir/c-tests/faultinject"
mkdir -p "$libdir/c-tests"
cc -std=c11 -Wall -Wextra -Werror -pedantic -D_GNU_SOURCE -O1 -I"$root/include" tests/c/faultinject.c \
  -o "$victim" -L"$libdir" -lsession_write_lock -Wl,-rpath,"$libdir"

export FAULTINJECT_FRESH="$victim"
counts="$(mktemp)"
trap 'rm -f "$counts"' EXIT
status=0
started=$SECONDS
for lang in c node; do
  : >"$counts"
  echo "== faultinject from $lang"
  if [ "$lang" = c ]; then cmd=("$victim"); else cmd=(node tests/faultinject/victim.mjs); fi
  FAULTINJECT_COUNTS="$counts" node tests/faultinject/run.mjs "$lang" "${cmd[@]}" || status=1
  read -r passed failed <"$counts" || { passed=0; failed=1; }
  swl_record "faultinject-$lang" "$passed" "$failed" 0
done
echo "== faultinject took $((SECONDS - started))s"
exit $status
