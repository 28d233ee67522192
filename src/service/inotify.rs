//! One inotify instance per process, one watch per directory that has waiters (DESIGN §2.5).
//! Reports which names disappeared from which directory; the service decides whom to wake.

use crate::maps::Map;
use std::ffi::OsString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

const MASK: u32 = libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

pub struct Inotify {
    fd: RawFd,
    by_dir: Map<PathBuf, i32>,
    by_wd: Map<i32, PathBuf>,
}

pub enum Event {
    /// `name` was deleted from or renamed out of `dir`.
    Removed { dir: PathBuf, name: OsString },
    /// The directory itself went away (its watch is gone with it).
    DirGone(PathBuf),
    /// Events were lost: everyone must look again.
    Overflow,
}

impl Inotify {
    pub fn new() -> io::Result<Inotify> {
        // SAFETY: plain syscall; the fd is owned by the returned value.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Inotify {
            fd,
            by_dir: Map::default(),
            by_wd: Map::default(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Watches `dir` if it is not watched yet. False when the kernel refused (the waiters then
    /// rely on the periodic re-inspection alone).
    pub fn watch(&mut self, dir: &Path) -> bool {
        if self.by_dir.contains_key(dir) {
            return true;
        }
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: valid fd and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd, c.as_ptr(), MASK) };
        if wd < 0 {
            return false;
        }
        self.by_dir.insert(dir.to_path_buf(), wd);
        self.by_wd.insert(wd, dir.to_path_buf());
        true
    }

    pub fn unwatch(&mut self, dir: &Path) {
        if let Some(wd) = self.by_dir.remove(dir) {
            self.by_wd.remove(&wd);
            // SAFETY: valid fd; a stale wd only yields EINVAL.
            unsafe { libc::inotify_rm_watch(self.fd, wd) };
        }
    }

    /// Drains every pending event.
    pub fn read_events(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        // u64 elements keep the buffer aligned for `inotify_event`.
        let mut buf = [0u64; 1024];
        loop {
            // SAFETY: reading into a buffer we own, of the stated size.
            let n = unsafe {
                libc::read(
                    self.fd,
                    buf.as_mut_ptr().cast(),
                    std::mem::size_of_val(&buf),
                )
            };
            if n <= 0 {
                return events;
            }
            // SAFETY: the u64 buffer viewed as the bytes the kernel wrote.
            let bytes =
                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
            self.parse(bytes, &mut events);
        }
    }

    fn parse(&mut self, bytes: &[u8], events: &mut Vec<Event>) {
        let header = std::mem::size_of::<libc::inotify_event>();
        let mut at = 0;
        while at + header <= bytes.len() {
            // SAFETY: the kernel writes whole events; read_unaligned tolerates any offset.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(bytes[at..].as_ptr().cast()) };
            let name_bytes = &bytes[at + header..(at + header + ev.len as usize).min(bytes.len())];
            at += header + ev.len as usize;
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                events.push(Event::Overflow);
                continue;
            }
            let Some(dir) = self.by_wd.get(&ev.wd).cloned() else {
                continue;
            };
            if ev.mask & (libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
                self.by_wd.remove(&ev.wd);
                self.by_dir.remove(&dir);
                events.push(Event::DirGone(dir));
            } else {
                let end = name_bytes
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(name_bytes.len());
                events.push(Event::Removed {
                    dir,
                    name: OsString::from_vec(name_bytes[..end].to_vec()),
                });
            }
        }
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        // SAFETY: we own the fd.
        unsafe { libc::close(self.fd) };
    }
}
