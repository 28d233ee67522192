#!/usr/bin/env bash
# Compiles the C cycle benchmarks into benches/build/ with the shared driver (bench.c):
#   benches/c/build.sh              the baselines: liblockfile_cycle, syscall_floor_cycle
#   benches/c/build.sh swl LIBDIR   swl_cycle, linked to LIBDIR/libsession_write_lock.so
#                                   (scripts/bench.sh passes target/release)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
out="${here}/../build"
cc="${CC:-cc}"
cflags=(-std=c11 -O2 -Wall -Wextra -Werror)
mkdir -p "${out}"

compile() { # name, extra compiler arguments...
  local name="$1"
  shift
  printf '[benches/c] compiling build/%s\n' "${name}"
  "${cc}" "${cflags[@]}" -o "${out}/${name}" "${here}/${name}.c" "${here}/bench.c" "$@"
}

case "${1:-}" in
  "")
    compile liblockfile_cycle -llockfile
    compile syscall_floor_cycle
    ;;
  swl)
    libdir="$(cd "${2:?usage: $0 swl LIBDIR}" && pwd)"
    compile swl_cycle -I"${root}/include" -L"${libdir}" -lsession_write_lock -Wl,-rpath,"${libdir}"
    ;;
  *)
    echo "usage: $0 [swl LIBDIR]" >&2
    exit 2
    ;;
esac
