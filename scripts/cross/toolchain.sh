# Building (and, for Linux targets, running) for other targets; source it after scripts/lib.sh,
# from the repository's root. The standard library of another target is built from source by
# Debian's Rust (rustc-web, cargo-web, rust-web-src from bookworm-security, in /usr/bin) with
# RUSTC_BOOTSTRAP=1 and -Zbuild-std, into ${CARGO_TARGET_DIR:-target}/cross: the rustup
# toolchain in PATH has no other targets, and the two never rebuild each other's caches.

# swl_cross_install TRIPLE — installs (and, for aarch64, registers with binfmt_misc) what
# building for TRIPLE and running its programs needs; scripts/setup.sh calls it.
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
