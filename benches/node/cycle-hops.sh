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
valgrind --tool=callgrind --dump-before=getpriority --callgrind-out-file="${work}/cg" \
  node "${here}/cycle-hops.mjs" "${work}/locks" "${n}" "$@" >"${work}/names" 2>"${work}/valgrind"
# Dumps 2, 4, … are the phases, named in order on stdout; phases of one name are added up.
k=2
while read -r name; do
  printf '%s\t%s\n' "${name}" "$(sed -n 's/^summary: //p' "${work}/cg.${k}")"
  k=$((k + 2))
done <"${work}/names" | awk -F'\t' -v n="${n}" '
  !($1 in total) { order[++count] = $1 }
  { total[$1] += $2; runs[$1] += 1 }
  END {
    printf "%-50s %12s %10s\n", "phase", "instr/iter", "minus loop"
    loop = total[order[1]] / (runs[order[1]] * n)
    for (i = 1; i <= count; i++) {
      per = total[order[i]] / (runs[order[i]] * n)
      printf "%-50s %12d %10d\n", order[i], per, per - loop
    }
  }'
printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
