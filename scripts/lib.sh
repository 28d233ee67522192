# Shared by the project's scripts (source it): installing Debian packages, loud skips, and the
# one summary line of the test command. Nothing here runs on its own.

# swl_apt_install WHY PKG... — installs the missing Debian packages, saying which and why first.
# Waits for another apt run to finish instead of failing (suites may install side by side).
swl_apt_install() {
  local why=$1 pkg missing=()
  shift
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing with apt-get: ${missing[*]} ($why)"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q)
  if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    "${apt[@]}" update >/dev/null && "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# swl_require_all — true when every skip must fail the run: in CI, or when SWL_REQUIRE_ALL=1.
swl_require_all() { [ "${CI:-}" = true ] || [ "${SWL_REQUIRE_ALL:-}" = 1 ]; }

# swl_skip WHAT WHY — a loud skip; under swl_require_all it is a failure (exit 1).
swl_skip() {
  echo "!!! SKIPPED $1: $2 !!!" >&2
  swl_record "$1" 0 0 1
  if swl_require_all; then
    echo "!!! a skip is a failure here (CI=true or SWL_REQUIRE_ALL=1) !!!" >&2
    exit 1
  fi
}

# swl_record SUITE PASSED FAILED SKIPPED — adds a suite's counts to the test command's summary
# (scripts/test.sh sets SWL_SUMMARY; outside it this does nothing).
swl_record() {
  [ -n "${SWL_SUMMARY:-}" ] && printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$SWL_SUMMARY"
  return 0
}

# swl_summary FILE — prints the totals line over every recorded suite.
swl_summary() {
  awk -F'\t' '{ p += $2; f += $3; s += $4 } END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$1"
}
