#!/usr/bin/env bash
# The install test: the npm packages as a user gets them, through a real registry.
# Builds the release addon with @napi-rs/cli (stripped), checks it (size, no swl_* C symbols),
# checks the typings with @arethetypeswrong/cli, then starts verdaccio (pinned in this
# directory's package-lock.json) on 127.0.0.1 with a temporary storage and no uplink, publishes
# the platform package built here (linux-x64-gnu) and the main package to it, and in a fresh
# temporary project installs `session-write-lock` by name from that registry only. check.ts is
# compiled with `tsc --strict` as ESM and as CommonJS and run (acquire, a second process is
# busy, release, release-all + reset); then the loader's message without the platform package
# is checked. The registry is stopped and everything temporary removed at the end. Nothing is
# published anywhere else. Also the Rust side of distribution: `cargo package` of the core
# crate (built and verified in its own target directory, so that the packaged copy's binaries
# never land in target/debug), and `cargo install --path .` would install only session-lock.
# Then the C library as scripts/install.sh installs it: stripped (no debug or LLVM bitcode
# sections, sizes reported), and README.md's C quickstart builds and runs against it. With
# `--win32` (the windows stage, `scripts/test.sh --only windows`), last, the
# win32 layout: the win32-x64-gnu package (built with mingw-w64) is published too, a fresh
# project installs session-write-lock as npm does on x64 Windows (--os=win32 --cpu=x64), gets
# that package with its os and cpu fields and no Linux one, and the compiled check.js runs in
# it under a Windows node.exe (wine).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd -P)"
source scripts/lib.sh

passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { echo "FAIL: $*" >&2; swl_record package "$passed" 1 0; exit 1; }

platform=linux-x64-gnu
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ] || [[ "$(ldd --version 2>&1)" == *musl* ]]; then
  swl_skip "the npm install test" "it publishes the linux-x64-gnu package, and this is $(uname -s) $(uname -m)"
  exit 0
fi

echo "== release addon (npm run build: napi build --release --strip)"
bash scripts/build-node.sh release
node_file="npm/session-write-lock.$platform.node"
size=$(stat -c %s "$node_file")
echo "$node_file: $size bytes"
[ "$size" -le $((1536 * 1024)) ] || fail "the release addon is $size bytes, more than 1.5 MiB"
ok "release addon is at most 1.5 MiB ($size bytes)"
# The symbols are read once, not piped into `grep -q`: under pipefail grep's early exit kills nm
# with SIGPIPE, which turns a match into a failed pipeline.
symbols="$(nm -D --defined-only "$node_file")"
if grep -q ' swl_' <<<"$symbols"; then
  fail "the Node addon exports C ABI symbols: $(grep ' swl_' <<<"$symbols" | head -3)"
fi
grep -q ' napi_register_module_v1$' <<<"$symbols" || fail "no napi_register_module_v1 in $node_file"
ok "the addon exports napi_register_module_v1 and no swl_* symbol"

echo "== package contents and typings"
for dir in npm npm/npm/*/; do
  cmp -s LICENSE "$dir/LICENSE" || fail "$dir/LICENSE differs from LICENSE"
  [ -s "$dir/README.md" ] || fail "$dir/README.md is missing"
done
node -e '
  const main = require("./npm/package.json");
  const fs = require("fs");
  const dirs = fs.readdirSync("npm/npm");
  const want = Object.fromEntries(dirs.map((d) => [require(`./npm/npm/${d}/package.json`).name, main.version]));
  const got = main.optionalDependencies;
  if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(want).sort()))
    throw new Error(`optionalDependencies ${JSON.stringify(got)} != platform packages ${JSON.stringify(want)}`);
  for (const d of dirs) {
    const p = require(`./npm/npm/${d}/package.json`);
    const file = `session-write-lock.${d}.node`;
    for (const key of ["os", "cpu", "repository", "description", "license"])
      if (!p[key]) throw new Error(`${p.name} has no ${key}`);
    if (d.startsWith("linux-") !== Boolean(p.libc)) throw new Error(`${p.name}: libc is wrong`);
    if (p.version !== main.version || p.main !== file || JSON.stringify(p.files) !== JSON.stringify([file]))
      throw new Error(`${p.name}: version, main or files is wrong`);
  }
' || fail "platform packages and optionalDependencies disagree"
ok "every platform package has os/cpu/libc/files/README/LICENSE and is an optional dependency at $(node -p 'require("./npm/package.json").version')"
(cd npm && node_modules/.bin/attw --pack .) || fail "@arethetypeswrong/cli reports problems"
ok "@arethetypeswrong/cli: no problems (ESM and CJS typings)"

echo "== Rust: cargo package, what cargo install installs"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
# --allow-dirty: the test command also runs on uncommitted work; CI runs it on a clean clone.
cargo package -p session-write-lock --allow-dirty --target-dir "$target_dir/package-check" ||
  fail "cargo package -p session-write-lock"
ok "cargo package -p session-write-lock builds the packaged crate"
cargo metadata --no-deps --format-version 1 | node -e '
  const { packages } = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const bins = (name) => packages.find((p) => p.name === name).targets
    .filter((t) => t.kind.includes("bin")).map((t) => t.name);
  const core = bins("session-write-lock");
  if (JSON.stringify(core) !== "[\"session-lock\"]") throw new Error(`core binaries: ${core}`);
  for (const p of packages)
    if (p.name !== "session-write-lock" && !(Array.isArray(p.publish) && p.publish.length === 0))
      throw new Error(`${p.name} is publishable`);
  for (const p of packages)
    if (!p.description || !p.repository) throw new Error(`${p.name} lacks description or repository`);
' || fail "workspace packages"
ok "the core crate has one binary (session-lock); the other workspace members are not published"

echo "== local registry (verdaccio)"
# Installed by scripts/setup.sh (package.json overrides node-fetch@cjs, a dist-tag some registry
# mirrors lack, with the version it names).
[ -x tests/package/node_modules/.bin/verdaccio ] || fail "verdaccio is not installed in tests/package: run scripts/setup.sh first"
work="$(mktemp -d "${TMPDIR:-/tmp}/swl-package.XXXXXX")"
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
registry="http://127.0.0.1:$port/"
mkdir -p "$work/storage"
cat >"$work/config.yaml" <<YAML
storage: $work/storage
auth:
  htpasswd:
    file: $work/storage/htpasswd
uplinks: {}
packages:
  "**":
    access: \$all
    publish: \$authenticated
log: { type: stdout, format: pretty, level: warn }
YAML
tests/package/node_modules/.bin/verdaccio --config "$work/config.yaml" --listen "127.0.0.1:$port" \
  >"$work/verdaccio.log" 2>&1 &
registry_pid=$!
token="$(node -e '
  const [registry] = process.argv.slice(1);
  (async () => {
    for (let i = 0; i < 150; i++) {
      try { if ((await fetch(registry + "-/ping")).ok) break; } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    const response = await fetch(registry + "-/user/org.couchdb.user:swl-test", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "swl-test", password: "swl-test-password" }),
    });
    const body = await response.json();
    if (!body.token) throw new Error(`no token: ${response.status} ${JSON.stringify(body)}`);
    console.log(body.token);
  })().catch((e) => { console.error(e.message); process.exit(1); });
' "$registry")" || { cat "$work/verdaccio.log" >&2; fail "verdaccio did not start on $registry"; }
# Only this registry: a private npmrc, cache and global config for every npm call below.
npmrc="$work/npmrc"
printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\naudit=false\nfund=false\nupdate-notifier=false\n' \
  "$registry" "$port" "$token" >"$npmrc"
: >"$work/npmrc-global"
npm_local() { # quiet unless it fails
  env -u npm_config_registry -u NPM_CONFIG_REGISTRY npm --userconfig "$npmrc" \
    --globalconfig "$work/npmrc-global" --cache "$work/cache" "$@" >"$work/npm.log" 2>&1 ||
    { cat "$work/npm.log" >&2; return 1; }
}
ok "verdaccio runs on $registry (pid $registry_pid)"

echo "== publish"
cp -r "npm/npm/$platform" "$work/platform"
cp "$node_file" "$work/platform/"
npm_local publish "$work/platform" || fail "npm publish session-write-lock-$platform"
npm_local publish "$root/npm" || fail "npm publish session-write-lock"
npm_local view session-write-lock optionalDependencies --json || fail "npm view"
published="$(cat "$work/npm.log")"
node -e 'if (!JSON.parse(process.argv[1])["session-write-lock-linux-x64-gnu"]) process.exit(1)' "$published" ||
  fail "the published main package has no optionalDependencies: $published"
npm_local view "session-write-lock-$platform" version || fail "the platform package is not on the registry"
ok "published session-write-lock-$platform and session-write-lock"

echo "== install into fresh projects, compile with tsc --strict, run"
tsc="$root/npm/node_modules/.bin/tsc"
for kind in module commonjs; do
  project="$work/project-$kind"
  mkdir -p "$project"
  printf '{ "name": "swl-consumer-%s", "private": true, "type": "%s" }\n' "$kind" "$kind" >"$project/package.json"
  (cd "$project" && npm_local install session-write-lock) || fail "npm install session-write-lock ($kind)"
  node -e '
    const [lock, registry] = process.argv.slice(1);
    const packages = Object.entries(require(lock).packages).filter(([p]) => p);
    const elsewhere = packages.filter(([, p]) => !p.resolved?.startsWith(registry));
    if (packages.length !== 2 || elsewhere.length) throw new Error(JSON.stringify(packages));
  ' "$project/package-lock.json" "$registry" ||
    fail "the project did not get exactly the two packages, both from $registry"
  [ -f "$project/node_modules/session-write-lock-$platform/session-write-lock.$platform.node" ] ||
    fail "npm did not install session-write-lock-$platform"
  if [ -n "$(find "$project/node_modules/session-write-lock" -name '*.node')" ]; then
    fail "the main package contains a .node file"
  fi
  cp tests/package/check.ts "$project/"
  (cd "$project" && "$tsc" --strict --module nodenext --moduleResolution nodenext --target es2022 \
    --types node --typeRoots "$root/npm/node_modules/@types" --outDir dist check.ts) ||
    fail "tsc --strict ($kind)"
  grep -q 'require("session-write-lock")' "$project/dist/check.js" && format=commonjs || format=module
  [ "$format" = "$kind" ] || fail "tsc emitted $format, expected $kind"
  out="$(cd "$project" && env -u SESSION_WRITE_LOCK_NATIVE_PATH node dist/check.js)" || fail "check.js ($kind): $out"
  echo "$kind: $out"
  passed=$((passed + $(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' <<<"$out")))
  ok "installed by name, compiled with tsc --strict and ran as $kind"
done

echo "== the loader without the platform package"
rm -rf "$work/project-module/node_modules/session-write-lock-$platform"
message="$(cd "$work/project-module" && env -u SESSION_WRITE_LOCK_NATIVE_PATH node dist/check.js 2>&1)" &&
  fail "loaded without the platform package"
for part in "no native addon for $platform" "session-write-lock-$platform" "npm run build" SESSION_WRITE_LOCK_NATIVE_PATH; do
  grep -qF "$part" <<<"$message" || fail "the loader's message does not name '$part': $message"
done
ok "without the platform package the loader names the platform, the package and how to build"
out="$(cd "$work/project-module" && SESSION_WRITE_LOCK_NATIVE_PATH="$root/$node_file" node dist/check.js)" ||
  fail "SESSION_WRITE_LOCK_NATIVE_PATH: $out"
ok "SESSION_WRITE_LOCK_NATIVE_PATH points the loader at a .node file"

echo "== C: scripts/install.sh installs stripped release libraries"
cprefix="$work/c-prefix"
bash scripts/install.sh --prefix "$cprefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "scripts/install.sh --prefix $cprefix"; }
version="$(cargo pkgid -p session-write-lock-c | sed 's/.*[#@]//')"
shared="$cprefix/lib/libsession_write_lock.so.$version" archive="$cprefix/lib/libsession_write_lock.a"
for lib in "$shared" "$archive"; do
  sections="$(readelf -S -W "$lib")"
  if grep -qE '\] \.(debug_|llvmbc)' <<<"$sections"; then
    fail "$lib keeps debug or LLVM bitcode sections: $(grep -oE '\.(debug_|llvmbc)[a-z_]*' <<<"$sections" | sort -u | tr '\n' ' ')"
  fi
done
shared_size=$(stat -c %s "$shared") archive_size=$(stat -c %s "$archive")
echo "installed: $(basename "$shared") $shared_size bytes, $(basename "$archive") $archive_size bytes"
[ "$shared_size" -le $((2 * 1024 * 1024)) ] && [ "$archive_size" -le $((12 * 1024 * 1024)) ] ||
  fail "the stripped libraries are larger than 2 MiB (.so) or 12 MiB (.a)"
ok "the installed release .so ($shared_size bytes) and .a ($archive_size bytes) have no debug or bitcode sections"
bash tests/readme/block.sh c >"$work/quickstart.c"
export PKG_CONFIG_PATH="$cprefix/lib/pkgconfig"
for pc in session_write_lock session_write_lock-static; do
  read -r -a flags <<<"$(pkg-config --static --cflags --libs "$pc")"
  cc -std=c11 -Wall -Wextra -Werror "$work/quickstart.c" -o "$work/quickstart" "${flags[@]}" -Wl,-rpath,"$cprefix/lib" ||
    fail "README.md's C quickstart does not build against the stripped library ($pc)"
  "$work/quickstart" || fail "README.md's C quickstart fails against the stripped library ($pc)"
done
ok "README.md's C quickstart builds and runs against the stripped shared and static libraries"

if [ "${1:-}" != --win32 ]; then
  # Not yet in the gate, as the rest of the Windows suites (docs/PROTOCOL.md, "Windows").
  echo "== the win32 layout: run by the windows stage (scripts/test.sh --only windows)"
elif echo "== the win32 layout, installed as on x64 Windows and run by node.exe" &&
  source scripts/cross/toolchain.sh &&
  # Last: swl_cross_env points cargo at the Windows target for everything after it.
  ! swl_cross_env x86_64-pc-windows-gnu; then
  swl_skip "the win32 package layout" "mingw-w64, wine or node.exe is missing: run scripts/setup.sh"
else
  win32=win32-x64-gnu
  bash scripts/build-node.sh release --target x86_64-pc-windows-gnu || fail "the $win32 addon does not build"
  cp -r "npm/npm/$win32" "$work/platform-$win32"
  cp "npm/session-write-lock.$win32.node" "$work/platform-$win32/"
  npm_local publish "$work/platform-$win32" || fail "npm publish session-write-lock-$win32"
  project="$work/project-$win32"
  mkdir -p "$project"
  printf '{ "name": "swl-consumer-win32", "private": true, "type": "module" }\n' >"$project/package.json"
  (cd "$project" && npm_local install --os=win32 --cpu=x64 session-write-lock) ||
    fail "npm install --os=win32 --cpu=x64 session-write-lock"
  node -e '
    const fs = require("fs");
    const [modules, name] = process.argv.slice(1);
    const p = require(`${modules}/session-write-lock-${name}/package.json`);
    if (JSON.stringify(p.os) !== "[\"win32\"]" || JSON.stringify(p.cpu) !== "[\"x64\"]")
      throw new Error(`os ${JSON.stringify(p.os)}, cpu ${JSON.stringify(p.cpu)}`);
    if (!fs.existsSync(`${modules}/session-write-lock-${name}/${p.main}`)) throw new Error(`no ${p.main}`);
    const linux = fs.readdirSync(modules).filter((d) => d.startsWith("session-write-lock-linux"));
    if (linux.length) throw new Error(`Linux packages installed: ${linux}`);
  ' "$project/node_modules" "$win32" || fail "the win32 install"
  ok "npm --os=win32 --cpu=x64 installs session-write-lock-$win32 (os win32, cpu x64) and no Linux package"
  cp -r "$work/project-module/dist" "$project/"
  # node.exe cannot write to a Linux pipe: its output goes to a file.
  (cd "$project" && env -u SESSION_WRITE_LOCK_NATIVE_PATH wine "$SWL_WINE_NODE" dist/check.js >out.txt 2>&1) ||
    fail "check.js under node.exe: $(cat "$project/out.txt")"
  out="$(tr -d '\r' <"$project/out.txt")"
  echo "win32: $out"
  grep -q '^[0-9]* passed, 0 failed$' <<<"$out" || fail "check.js under node.exe printed no count: $out"
  ok "the installed win32 package runs check.js under a Windows node.exe"
  if grep -q '^SKIPPED: ' <<<"$out"; then
    swl_skip "part of check.js under node.exe" "$(sed -n 's/^SKIPPED: //p' <<<"$out")"
  fi
fi

swl_record package "$passed" 0 0
echo "== package suite: $passed passed, 0 failed"
