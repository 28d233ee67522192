//! Linux waiting: one epoll instance gathers the waker (an eventfd), one inotify instance (entries of
//! directories, closes of lock files) and one pidfd per watched legacy holder.

use super::inotify::Inotify;
use super::pidfd::Pidfds;
use crate::sys::{retry_eintr, EventSources, Ready, Token, WatchError};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

/// epoll keys of the two fixed descriptors; pidfds are keyed by their token.
const WAKE_KEY: u64 = u64::MAX;
const INOTIFY_KEY: u64 = u64::MAX - 1;

/// Wakes the poller from another thread (an eventfd). Copyable: the poller owns the fd and
/// lives as long as the process's lock service.
#[derive(Debug, Clone, Copy)]
pub struct Waker(RawFd);

impl Waker {
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to the eventfd; a full counter (EAGAIN) still means "wake".
        let _ = retry_eintr(|| unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) });
    }
}

pub struct Poller {
    epoll: OwnedFd,
    wake: OwnedFd,
    inotify: Option<Inotify>,
    /// File closes are reported here (not switched off); inotify may still be missing.
    closes: bool,
    pids: Pidfds,
}

fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: a descriptor the kernel has just returned to us, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn epoll_add(epoll: &OwnedFd, fd: RawFd, key: u64) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: key,
    };
    // SAFETY: valid epoll and target descriptors; the event is copied by the kernel.
    retry_eintr(|| unsafe {
        libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
    })
    .map(drop)
}

impl Poller {
    /// The poller, and why there are no file events when they are switched off or inotify
    /// cannot be had (the waiters then poll). Fails only when it cannot wait at all.
    pub fn new(sources: EventSources) -> io::Result<(Poller, Option<String>)> {
        // SAFETY: plain system calls; each returned fd is owned at once.
        let epoll = owned(retry_eintr(|| unsafe {
            libc::epoll_create1(libc::EPOLL_CLOEXEC)
        })?);
        let wake = owned(retry_eintr(|| unsafe {
            libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)
        })?);
        epoll_add(&epoll, wake.as_raw_fd(), WAKE_KEY)?;
        let (inotify, why) = if sources.files {
            match Inotify::new() {
                Ok(inotify) => match epoll_add(&epoll, inotify.fd(), INOTIFY_KEY) {
                    Ok(()) => (Some(inotify), None),
                    Err(e) => (None, Some(format!("inotify unavailable ({e})"))),
                },
                Err(e) => (None, Some(format!("inotify unavailable ({e})"))),
            }
        } else {
            (None, Some("inotify switched off".to_string()))
        };
        let poller = Poller {
            epoll,
            wake,
            closes: sources.closes,
            inotify,
            pids: Pidfds::default(),
        };
        Ok((poller, why))
    }

    pub fn waker(&self) -> Waker {
        Waker(self.wake.as_raw_fd())
    }

    /// The descriptors a forked child must close (pidfds are closed when their process ends).
    pub fn fixed_fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.epoll.as_raw_fd(), self.wake.as_raw_fd()];
        fds.extend(self.inotify.as_ref().map(Inotify::fd));
        fds
    }

    pub fn watch_entry(
        &mut self,
        token: Token,
        dir: &Path,
        name: &OsStr,
    ) -> Result<(), WatchError> {
        match &mut self.inotify {
            Some(inotify) => inotify.watch_entry(token, dir, name),
            None => Err(WatchError::Unsupported),
        }
    }

    /// Whether this platform reports the last close of a file (`watch_file` may still fail:
    /// without inotify the path is polled).
    pub fn sees_closes(&self) -> bool {
        self.closes
    }

    pub fn watch_file(&mut self, token: Token, file: &File) -> Result<(), WatchError> {
        match &mut self.inotify {
            Some(inotify) if self.closes => inotify.watch_file(token, file),
            _ => Err(WatchError::Unsupported),
        }
    }

    pub fn watch_pid(&mut self, token: Token, pid: u32) -> Result<(), WatchError> {
        let fd = self.pids.open(token, pid)?;
        epoll_add(&self.epoll, fd, token).map_err(|e| {
            self.pids.forget(token);
            WatchError::from_io(e)
        })
    }

    /// Drops every source of `token`.
    pub fn forget(&mut self, token: Token) {
        if let Some(inotify) = &mut self.inotify {
            inotify.forget(token);
        }
        self.pids.forget(token);
    }

    /// Sleeps until woken, a source fires or `timeout` passes (`None`: no timeout).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Ready {
        let mut ready = Ready::default();
        // Rounded up, so a timer is never woken for just before it is due.
        let ms = timeout.map_or(-1, |t| {
            let ms = t.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        });
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: a valid epoll fd and a buffer of the stated length.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 64, ms) };
        // EINTR (or any failure) is an empty wake-up: the caller's loop looks at its timers.
        let n = usize::try_from(n).unwrap_or(0);
        for event in &events[..n] {
            match event.u64 {
                WAKE_KEY => {
                    let mut count = 0u64;
                    // SAFETY: reading the 8-byte counter of our non-blocking eventfd.
                    let _ = retry_eintr(|| unsafe {
                        libc::read(self.wake.as_raw_fd(), (&mut count as *mut u64).cast(), 8)
                    });
                    ready.woken = true;
                }
                INOTIFY_KEY => {
                    if let Some(inotify) = &mut self.inotify {
                        inotify.read_events(&mut ready);
                    }
                }
                token => {
                    // A pidfd reports its process's end once; it is done.
                    self.pids.forget(token);
                    ready.tokens.push(token);
                    ready.ended.push(token);
                }
            }
        }
        ready.tokens.sort_unstable();
        ready.tokens.dedup();
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid watch stays quiet while the process lives and reports its end once.
    #[test]
    fn a_pid_watch_reports_the_end_of_the_process() {
        let (mut poller, _) = Poller::new(EventSources::ALL).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        poller.watch_pid(7, child.id()).unwrap();
        let ready = poller.wait(Some(Duration::from_millis(100)));
        assert!(ready.tokens.is_empty(), "{ready:?}");
        child.kill().unwrap();
        let ready = poller.wait(Some(Duration::from_secs(10)));
        assert_eq!((ready.tokens, ready.ended), (vec![7], vec![7]));
        child.wait().unwrap();
        let ready = poller.wait(Some(Duration::from_millis(50)));
        assert!(ready.tokens.is_empty(), "reported once: {ready:?}");
    }
}
