//! `pidfd_open(2)`: a descriptor that becomes readable when a process ends. Used for legacy
//! holders (their files carry only a pid); pids are those of our own pid namespace, as the
//! legacy rules read them.

use super::super::{retry_eintr, Token, WatchError};
use crate::base::maps::Map;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Default)]
pub struct Pidfds {
    by_token: Map<Token, (u32, OwnedFd)>,
}

impl Pidfds {
    /// Opens a pidfd for `pid` in place of the token's previous one; returns its descriptor
    /// (closing it later also removes it from the epoll set).
    pub fn open(&mut self, token: Token, pid: u32) -> Result<RawFd, WatchError> {
        if let Some((watched, fd)) = self.by_token.get(&token) {
            if *watched == pid {
                return Ok(fd.as_raw_fd());
            }
        }
        self.forget(token);
        let pid = libc::pid_t::try_from(pid).map_err(|_| WatchError::Unsupported)?;
        // SAFETY: plain system call; flags 0; the fd is owned at once.
        let fd = retry_eintr(|| unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
            .map_err(WatchError::from_io)?;
        let fd = RawFd::try_from(fd).map_err(|_| WatchError::Unsupported)?;
        // SAFETY: the descriptor was just returned to us. pidfds are always close-on-exec.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        self.by_token.insert(token, (pid as u32, owned));
        Ok(fd)
    }

    pub fn forget(&mut self, token: Token) {
        self.by_token.remove(&token);
    }
}
