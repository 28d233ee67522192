#!/usr/bin/env bash
# Runs the gateway's own file-lock test file (openclaw/openclaw, src/agents/session-write-lock.test.ts)
# against this package, in a scratch directory outside the repository. None of the gateway's code
# is kept here: the test file is given on the command line or downloaded at run time.
#   scripts/gateway-tests.sh FILE          a copy of the test file you have
#   scripts/gateway-tests.sh --commit SHA  downloads it from GitHub at that commit (needs network)
# The scratch directory gets vitest from the npm registry and three shims of ours in place of the
# gateway's modules: ./session-write-lock.js (re-exports this package), ./session-write-lock-error.js
# (this package's error classes and guards), @openclaw/normalization-core/number-coercion
# (MAX_TIMER_TIMEOUT_MS only), and ./session-write-lock.test-support.js (reads the test API from
# the global symbol, as the gateway's does) for the generations whose tests import it.
# Expected (see docs/GATEWAY.md): every test passes except the three that spy on the module's
# `fs.readFile` calls ("retries when a stale lock report …"): this package reads lock files in
# native code, so those spies never see a read. Not part of scripts/test.sh (it needs the network).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"
source scripts/lib.sh

VITEST_VERSION=3.2.7
# The file measured for issue #22 (53 tests, 50 pass): its git blob id.
KNOWN_BLOB=19ee9d1c61ac56d6853ec671debf76b4fac525d5

usage() { echo "usage: $0 FILE | --commit SHA" >&2; exit 2; }
[ $# -ge 1 ] || usage
swl_need "the gateway's tests" node npm || exit 1

work="$(mktemp -d "${TMPDIR:-/tmp}/swl-gateway-tests.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/agents" "$work/shims"
test_file="$work/src/agents/session-write-lock.test.ts"

case "$1" in
  --commit)
    [ $# -eq 2 ] || usage
    [[ "$2" =~ ^[0-9a-f]{7,40}$ ]] || { echo "not a commit: $2" >&2; exit 2; }
    swl_need "downloading the gateway's test file" curl || exit 1
    curl -fsSL "https://raw.githubusercontent.com/openclaw/openclaw/$2/src/agents/session-write-lock.test.ts" -o "$test_file"
    ;;
  -*) usage ;;
  *) cp -- "$1" "$test_file" ;;
esac
blob="$(git hash-object "$test_file")"
echo "== test file: blob $blob$([ "$blob" = "$KNOWN_BLOB" ] && echo " (the one measured for issue #22)")"

compgen -G "npm/session-write-lock.*.node" >/dev/null || bash scripts/build-node.sh
pkg="$root/npm/index.mjs"
cat >"$work/src/agents/session-write-lock.ts" <<EOF
export * from "$pkg";
EOF
cat >"$work/src/agents/session-write-lock-error.ts" <<EOF
export {
  SessionWriteLockTimeoutError,
  SessionWriteLockStaleError,
  isSessionWriteLockTimeoutError,
  isSessionWriteLockStaleError,
  isSessionWriteLockAcquireError,
  isSessionWriteLockBusyWithActiveRun,
} from "$pkg";
EOF
cat >"$work/src/agents/session-write-lock.test-support.ts" <<'EOF'
import "./session-write-lock.js";
type Api = { resetSessionWriteLockStateForTest(): void; testing: Record<string, unknown> };
function api(): Api {
  const found = (globalThis as Record<PropertyKey, unknown>)[Symbol.for("openclaw.sessionWriteLockTestApi")];
  if (!found) throw new Error("the session-write-lock test API is not registered");
  return found as Api;
}
export function resetSessionWriteLockStateForTest(): void {
  api().resetSessionWriteLockStateForTest();
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const testing: any = new Proxy({}, { get: (_target, key) => api().testing[key as string] });
EOF
cat >"$work/shims/number-coercion.ts" <<'EOF'
export const MAX_TIMER_TIMEOUT_MS = 2_147_000_000;
EOF
cat >"$work/vitest.config.mjs" <<'EOF'
import path from "node:path";
export default {
  resolve: {
    alias: {
      "@openclaw/normalization-core/number-coercion": path.resolve("shims/number-coercion.ts"),
    },
  },
  test: { include: ["src/**/*.test.ts"], pool: "forks" },
};
EOF
cd "$work"
echo '{"private":true,"type":"module"}' >package.json
echo "== npm install vitest@$VITEST_VERSION (in $work)"
npm install --silent --no-audit --no-fund "vitest@$VITEST_VERSION" >/dev/null
npx vitest run --reporter=verbose
