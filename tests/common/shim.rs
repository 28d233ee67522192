//! An `LD_PRELOAD` shim, compiled from C by the test into a temp directory, that plays the odd
//! filesystem and the slow process (docs/PROTOCOL.md, "Hostile neighbours"):
//! - `SWL_SHIM_NO_TMPFILE=1`: `open`/`openat` with `O_TMPFILE` fail with `EOPNOTSUPP`;
//! - `SWL_SHIM_NO_LINK=1`: `link`/`linkat` fail with `EPERM` (vfat, SMB without unix extensions);
//! - `SWL_SHIM_STALL=<suffix>` and `SWL_SHIM_DIR=<dir>`: the first `flock`, `unlink` or
//!   `unlinkat` (as `SWL_SHIM_STALL_CALL` says) on a file whose path ends in `<suffix>` creates
//!   `<dir>/stalled` and waits, before the call, until `<dir>/go` exists: a handshake, so that
//!   the test acts at that exact point whatever the machine's load.
//!
//! Each refusal appends the call's name to `<dir>/refused`, so a test can prove the shim acted.

#![allow(dead_code)] // each test uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void note(const char *what) {
  const char *dir = getenv("SWL_SHIM_DIR");
  if (!dir) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/refused", dir);
  int fd = ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open"))(
      path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, what, strlen(what)) < 0 || write(fd, "\n", 1) < 0) {}
  close(fd);
}

static int stalled_once = 0;

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void handshake(const char *call, const char *path) {
  const char *suffix = getenv("SWL_SHIM_STALL");
  const char *which = getenv("SWL_SHIM_STALL_CALL");
  const char *dir = getenv("SWL_SHIM_DIR");
  if (!suffix || !which || !dir || stalled_once || strcmp(which, call) != 0) return;
  if (!ends_with(path, suffix)) return;
  stalled_once = 1;
  char marker[4096], go[4096];
  snprintf(marker, sizeof marker, "%s/stalled", dir);
  snprintf(go, sizeof go, "%s/go", dir);
  int fd = ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open"))(
      marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
  struct stat st;
  while (stat(go, &st) != 0) usleep(1000);
}

static int hide_tmpfile(int flags) {
  if ((flags & O_TMPFILE) == O_TMPFILE && getenv("SWL_SHIM_NO_TMPFILE")) {
    note("O_TMPFILE");
    errno = EOPNOTSUPP;
    return 1;
  }
  return 0;
}

#define OPEN(name, ...)                                                     \
  int name(__VA_ARGS__, int flags, ...) {                                   \
    mode_t mode = 0;                                                        \
    if (flags & (O_CREAT | O_TMPFILE)) {                                    \
      va_list ap;                                                           \
      va_start(ap, flags);                                                  \
      mode = va_arg(ap, int);                                               \
      va_end(ap);                                                           \
    }                                                                       \
    if (hide_tmpfile(flags)) return -1;

OPEN(open, const char *path)
  return ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open"))(path, flags, mode);
}
OPEN(openat, int dirfd, const char *path)
  return ((int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat"))(dirfd, path, flags, mode);
}
/* glibc has separate 64-bit names; musl makes them macros for the above. */
#ifdef __GLIBC__
OPEN(open64, const char *path)
  return ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64"))(path, flags, mode);
}
OPEN(openat64, int dirfd, const char *path)
  return ((int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat64"))(dirfd, path, flags, mode);
}
#endif

static int refuse_link(void) {
  if (!getenv("SWL_SHIM_NO_LINK")) return 0;
  note("link");
  errno = EPERM;
  return 1;
}

int link(const char *a, const char *b) {
  if (refuse_link()) return -1;
  return ((int (*)(const char *, const char *))dlsym(RTLD_NEXT, "link"))(a, b);
}

int linkat(int d1, const char *a, int d2, const char *b, int flags) {
  if (refuse_link()) return -1;
  return ((int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat"))(
      d1, a, d2, b, flags);
}

int flock(int fd, int op) {
  char proc[64], path[4096];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(proc, path, sizeof path - 1);
  if (n > 0) {
    path[n] = 0;
    handshake("flock", path);
  }
  return ((int (*)(int, int))dlsym(RTLD_NEXT, "flock"))(fd, op);
}

int unlink(const char *path) {
  handshake("unlink", path);
  return ((int (*)(const char *))dlsym(RTLD_NEXT, "unlink"))(path);
}

int unlinkat(int dirfd, const char *path, int flags) {
  handshake("unlink", path);
  return ((int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat"))(dirfd, path, flags);
}
"#;

/// The C compiler for the target these tests run on (the cross suites run them for musl and,
/// under qemu, for arm64: the shim must be a library of that target).
fn compiler() -> &'static str {
    if cfg!(target_env = "musl") {
        "musl-gcc"
    } else if cfg!(target_arch = "aarch64") && !cfg!(target_os = "macos") {
        "aarch64-linux-gnu-gcc"
    } else {
        "cc"
    }
}

/// The shim, built into `dir`; `None` (after a loud skip) when no C compiler is there.
pub fn build(test: &str, dir: &Path) -> Option<PathBuf> {
    let source = dir.join("shim.c");
    let library = dir.join("shim.so");
    std::fs::write(&source, SOURCE).unwrap();
    let built = Command::new(compiler())
        .args(["-shared", "-fPIC", "-O1", "-U_FORTIFY_SOURCE", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .status();
    match built {
        Ok(status) if status.success() => Some(library),
        Ok(status) => panic!("{} could not build the shim: {status}", compiler()),
        Err(e) => {
            crate::common::skip(test, &format!("no C compiler `{}`: {e}", compiler()));
            None
        }
    }
}

/// `env LD_PRELOAD=… SWL_SHIM_…` as a worker prefix.
pub fn prefix(library: &Path, dir: &Path, settings: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec![
        "env".to_string(),
        format!("LD_PRELOAD={}", library.display()),
        format!("SWL_SHIM_DIR={}", dir.display()),
    ];
    args.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
    args
}

/// The calls the shim refused so far.
pub fn refused(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("refused"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Waits until the shimmed process is stalled at its handshake (or has exited: `false`).
pub fn wait_stalled(dir: &Path, child: &mut std::process::Child) -> bool {
    loop {
        if dir.join("stalled").exists() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Lets the stalled process go on.
pub fn go(dir: &Path) {
    std::fs::write(dir.join("go"), b"").unwrap();
}
