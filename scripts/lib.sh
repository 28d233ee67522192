# Shared by the project's scripts (source it): installing Debian packages, loud skips, and the
# one summary line of the test command. Nothing here runs on its own.

# swl_apt_install [-t RELEASE] WHY PKG... — installs the missing Debian packages, saying which
# and why first; with -t, from that release (e.g. bookworm-security). Waits for another apt run
# to finish instead of failing (suites may install side by side).
swl_apt_install() {
  local release=()
  if [ "$1" = -t ]; then release=(-t "$2"); shift 2; fi
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
  local install=(install -y --no-install-recommends "${release[@]}" "${missing[@]}") log
  log=$(mktemp)
  if ! "${apt[@]}" "${install[@]}" >"$log" 2>&1; then
    if ! { "${apt[@]}" update && "${apt[@]}" "${install[@]}"; } >"$log" 2>&1; then
      echo "!!! apt-get could not install ${missing[*]} ($why):" >&2
      tail -n 20 "$log" >&2
      rm -f "$log"
      return 1
    fi
  fi
  rm -f "$log"
}

# swl_need WHAT CMD... — true when every CMD is on PATH; otherwise says which are missing for
# WHAT and that scripts/setup.sh installs them (the suites install nothing themselves).
swl_need() {
  local what=$1 cmd missing=()
  shift
  for cmd in "$@"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "!!! $what needs ${missing[*]}, which this machine lacks: run scripts/setup.sh first !!!" >&2
  return 1
}

# swl_npm_install DIR WHY [NPM ARGS...] — installs DIR's npm packages as its package-lock.json
# pins them, saying what and why, unless node_modules is already newer than the lockfile.
# Without ARGS: `npm ci`.
swl_npm_install() {
  local dir=$1 why=$2
  shift 2
  [ $# -gt 0 ] || set -- ci
  if [ -e "$dir/node_modules/.package-lock.json" ] &&
    [ ! "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    return 0
  fi
  echo "== installing npm packages into $dir/node_modules as $dir/package-lock.json pins them ($why)"
  (cd "$dir" && npm "$@" --no-audit --no-fund)
}

# swl_npm_package_deps — npm/'s dev dependencies. Not `npm ci`: the package's
# optionalDependencies are its own platform packages, which a checkout never installs (and
# which need not exist on the registry yet); `npm ci` refuses a lockfile without them.
# --no-save keeps package-lock.json as it is.
swl_npm_package_deps() {
  swl_npm_install npm "@napi-rs/cli builds the addon; TypeScript and attw check the typings" \
    install --omit=optional --no-save --ignore-scripts
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

# swl_count_lines SUITE LOG STATUS — records the counts a suite printed in LOG: cargo's
# "test result: … N passed; N failed; N ignored" (ignored = skipped), node --test's
# "# pass N" / "# fail N" / "# cancelled N" / "# skipped N" / "# todo N" (tap or spec), and the
# "[part: ]N passed, N failed" lines of the C and reliability runs. A suite that exited
# non-zero (STATUS) without printing a failure counts as one failed: it crashed or did not build.
swl_count_lines() {
  local suite=$1 log=$2 status=$3 counts passed failed skipped
  counts=$(awk '
    /^test result: / {
      for (i = 1; i <= NF; i++) {
        if ($(i + 1) ~ /^passed;?$/) p += $i
        if ($(i + 1) ~ /^failed;?$/) f += $i
        if ($(i + 1) ~ /^ignored;?$/) s += $i
      }
      next
    }
    /^(#|ℹ) (pass|fail|cancelled|skipped|todo) [0-9]+$/ {
      if ($2 == "pass") p += $3; else if ($2 == "fail" || $2 == "cancelled") f += $3; else s += $3
      next
    }
    /^([^ ]+: )?[0-9]+ passed, [0-9]+ failed$/ { p += $(NF - 3); f += $(NF - 1) }
    END { printf "%d %d %d\n", p, f, s }' "$log")
  read -r passed failed skipped <<<"$counts"
  if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
    echo "!!! $suite exited with status $status without reporting a failed test: counted as one !!!" >&2
    failed=1
  fi
  swl_record "$suite" "$passed" "$failed" "$skipped"
}

# swl_run_counted SUITE CMD... — runs CMD (its output shown as it comes), records its counts
# with swl_count_lines, and returns CMD's status.
swl_run_counted() {
  local suite=$1 log status
  shift
  log=$(mktemp)
  # The status travels through a file: neither errexit nor pipefail may decide it here.
  { "$@" 2>&1 && echo 0 >"$log.status" || echo $? >"$log.status"; } | tee "$log"
  status=$(cat "$log.status")
  swl_count_lines "$suite" "$log" "$status"
  rm -f "$log" "$log.status"
  return "$status"
}
