//! What every Unix can do, used where a platform has nothing better (and on Linux with the
//! `portable` feature):
//! - creation: no unnamed files, so the caller writes a hidden, uniquely named temp file and
//!   links it into place;
//! - inspection: `lstat` first, then `open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK)` only for a regular
//!   file, checking that what was opened is the inode looked at;
//! - waiting: no event sources, only a waker (a pipe) and `poll(2)`'s timeout. Every watch is
//!   `Unsupported`, so the lock service polls each waited-on path with backoff.

use super::{file_id, open_raw, retry, retry_eintr, Opened, Ready, Token, WatchError};
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

fn unsupported() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOTSUP)
}

/// No unnamed files here: always `ENOTSUP`.
pub fn open_anonymous(_dir: &CStr) -> io::Result<File> {
    Err(unsupported())
}

/// No unnamed files here: always `ENOTSUP`.
pub fn link_anonymous(_file: &File, _target: &CStr) -> io::Result<()> {
    Err(unsupported())
}

/// `lstat`, then a non-blocking open of a regular file, which must be the inode looked at
/// (otherwise the name was replaced meanwhile: `Changed`). If a FIFO took the name in
/// between, the non-blocking read-only open returns at once and the identity check rejects it.
pub fn open_without_effects(path: &CStr) -> io::Result<Opened> {
    let name = Path::new(OsStr::from_bytes(path.to_bytes()));
    let meta = retry(|| std::fs::symlink_metadata(name))?;
    if !meta.file_type().is_file() {
        return Ok(Opened::Other(meta));
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = match open_raw(path, flags, 0) {
        Ok(file) => file,
        // Replaced by a symlink meanwhile (FreeBSD says EMLINK, the others ELOOP).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) => {
            return Ok(Opened::Changed)
        }
        Err(e) => return Err(e),
    };
    if file_id(&file)? != (meta.dev(), meta.ino()) {
        return Ok(Opened::Changed);
    }
    Ok(Opened::Regular(file, meta))
}

/// Wakes the poller from another thread (the write end of a pipe).
#[derive(Debug, Clone, Copy)]
pub struct Waker(RawFd);

impl Waker {
    pub fn wake(&self) {
        // SAFETY: writing one byte to our non-blocking pipe; a full pipe still means "wake".
        let _ = retry_eintr(|| unsafe { libc::write(self.0, [1u8].as_ptr().cast(), 1) });
    }
}

pub struct Poller {
    read: OwnedFd,
    write: OwnedFd,
}

fn set_flags(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    retry_eintr(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: as above.
    retry_eintr(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) })?;
    Ok(())
}

impl Poller {
    /// The poller and why there are no file events (there never are here).
    pub fn new(_file_events: bool) -> io::Result<(Poller, Option<String>)> {
        let mut fds = [0; 2];
        // SAFETY: a two-element buffer for the pipe's ends, owned at once.
        retry_eintr(|| unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        // SAFETY: both descriptors were just returned to us.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        set_flags(&read)?;
        set_flags(&write)?;
        let why = Some("no file event source on this platform".to_string());
        Ok((Poller { read, write }, why))
    }

    pub fn waker(&self) -> Waker {
        Waker(self.write.as_raw_fd())
    }

    pub fn fixed_fds(&self) -> Vec<RawFd> {
        vec![self.read.as_raw_fd(), self.write.as_raw_fd()]
    }

    pub fn watch_entry(&mut self, _: Token, _: &Path, _: &OsStr) -> Result<(), WatchError> {
        Err(WatchError::Unsupported)
    }

    pub fn watch_file(&mut self, _: Token, _: &File) -> Result<(), WatchError> {
        Err(WatchError::Unsupported)
    }

    pub fn watch_pid(&mut self, _: Token, _: u32) -> Result<(), WatchError> {
        Err(WatchError::Unsupported)
    }

    pub fn forget(&mut self, _: Token) {}

    pub fn wait(&mut self, timeout: Option<Duration>) -> Ready {
        let ms = timeout.map_or(-1, |t| {
            i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
        });
        let mut fd = libc::pollfd {
            fd: self.read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd. EINTR is an empty wake-up, like a timeout.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        let mut ready = Ready::default();
        if n > 0 {
            let mut buf = [0u8; 64];
            // SAFETY: draining our non-blocking pipe into a buffer we own.
            while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), 64) } > 0 {}
            ready.woken = true;
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::time::Instant;

    /// Regular files are opened, anything else only looked at; nothing unnamed is made.
    #[test]
    fn portable_inspection_opens_only_regular_files() {
        let dir = std::env::temp_dir().join(format!("swl-sys-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = |name: &str| CString::new(dir.join(name).as_os_str().as_bytes()).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.join("f"), dir.join("l")).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c("p").as_ptr(), 0o600) }, 0);
        assert!(matches!(open_without_effects(&c("f")), Ok(Opened::Regular(_, m)) if m.len() == 1));
        for other in ["l", "p"] {
            assert!(
                matches!(open_without_effects(&c(other)), Ok(Opened::Other(_))),
                "{other}"
            );
        }
        let missing = open_without_effects(&c("none")).err().unwrap();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let dir_c = CString::new(dir.as_os_str().as_bytes()).unwrap();
        assert!(open_anonymous(&dir_c).is_err());
        let file = File::open(dir.join("f")).unwrap();
        assert!(link_anonymous(&file, &c("g")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The fallback sleeps for its timeout, wakes at once when woken, and watches nothing.
    #[test]
    fn portable_poller_times_out_and_wakes() {
        let (mut poller, why) = Poller::new(true).unwrap();
        assert!(why.is_some());
        let started = Instant::now();
        let ready = poller.wait(Some(Duration::from_millis(30)));
        assert!(!ready.woken && started.elapsed() >= Duration::from_millis(30));
        poller.waker().wake();
        let ready = poller.wait(Some(Duration::from_secs(60)));
        assert!(ready.woken && ready.tokens.is_empty());
        let file = File::open("/dev/null").unwrap();
        assert!(matches!(
            poller.watch_file(1, &file),
            Err(WatchError::Unsupported)
        ));
        assert!(matches!(
            poller.watch_pid(1, 1),
            Err(WatchError::Unsupported)
        ));
        let entry = poller.watch_entry(1, Path::new("/tmp"), OsStr::new("x"));
        assert!(matches!(entry, Err(WatchError::Unsupported)));
        poller.forget(1);
        assert_eq!(poller.fixed_fds().len(), 2);
    }
}
