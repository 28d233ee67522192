#!/usr/bin/env bash
# Installs what the benchmark baselines need and builds the C baselines into benches/build/.
# Idempotent; meant for a fresh Debian machine (apt-get, Node >= 20 with npm, a C compiler).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { printf '[benches/setup] %s\n' "$*"; }
as_root() { if [[ ${EUID} -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if [[ -f /usr/include/lockfile.h ]]; then
  say "liblockfile-dev already installed"
else
  say "installing liblockfile-dev with apt-get"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y liblockfile-dev
fi

say "installing proper-lockfile from package-lock.json (npm ci)"
(cd "${here}" && npm ci --no-audit --no-fund)

bash "${here}/c/build.sh"
say "done"
