#!/usr/bin/env bash
# Instructions per iteration of each phase of cycle-hops.mjs, under callgrind (user space only:
# the kernel's share of a system call is not counted, so this shows what Node adds on top of
# the system calls, not the whole cycle).
#
#   benches/node/cycle-hops.sh [N=2000] [package dir=npm]...
#
# Runs in a fresh directory under /dev/shm (tmpfs), removed at the end. SWL_HOPS_KEEP=<dir> keeps
# the callgrind dumps there, for `callgrind_annotate --inclusive=yes <dir>/cg.<k>`: with an addon
# that has its symbols (`cargo build --release --target x86_64-unknown-linux-gnu -p
# session-write-lock-node`, loaded through SESSION_WRITE_LOCK_NATIVE_PATH), the Rust functions'
# inclusive costs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
n="${1:-2000}"
shift || true
[ $# -gt 0 ] || set -- "${here}/../../npm"
work="$(mktemp -d /dev/shm/swl-hops-XXXXXX)"
trap '[ -z "${SWL_HOPS_KEEP:-}" ] || cp "${work}"/cg.* "${SWL_HOPS_KEEP}/"; rm -rf "${work}"' EXIT
# The main thread's instructions only (dumps cg.<k>-01), with V8's background threads off
# (--single-threaded): what a background compiler or marker does meanwhile is noise here.
valgrind --tool=callgrind --separate-threads=yes --dump-before=getpriority \
  --callgrind-out-file="${work}/cg" \
  node --single-threaded "${here}/cycle-hops.mjs" "${work}/locks" "${n}" "$@" \
  >"${work}/names" 2>"${work}/valgrind"
# Dumps 2, 4, … are the phases, named in order on stdout; of several phases of one name, the
# median (the upper one of an even count).
printf '%-50s %12s %10s\n' phase 'instr/iter' 'minus loop'
k=2
while read -r name; do
  printf '%s\t%s\n' "${name}" "$(sed -n 's/^summary: //p' "${work}/cg.${k}-01")"
  k=$((k + 2))
done <"${work}/names" | sort -t$'\t' -k1,1 -k2,2n | awk -F'\t' -v n="${n}" '
  { values[$1, ++runs[$1]] = $2 }
  END {
    for (name in runs) per[name] = values[name, int(runs[name] / 2) + 1] / n
    loop = per["loop alone"]
    for (name in runs) printf "%-50s %12d %10d\n", name, per[name], per[name] - loop
  }' | sort
printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
