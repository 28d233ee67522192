//! The portable poller (Linux with the `portable` feature): no event sources, only a waker
//! (a pipe) and `poll(2)`'s timeout. Every watch is `Unsupported`, so the lock service polls
//! each waited-on path with backoff.

use super::{retry_eintr, EventSources, Ready, Token, WatchError};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

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
    pub fn new(_: EventSources) -> io::Result<(Poller, Option<String>)> {
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

    pub fn sees_closes(&self) -> bool {
        false
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
    use std::time::Instant;

    /// The fallback sleeps for its timeout, wakes at once when woken, and watches nothing.
    #[test]
    fn portable_poller_times_out_and_wakes() {
        let (mut poller, why) = Poller::new(EventSources::ALL).unwrap();
        assert!(why.is_some() && !poller.sees_closes());
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
