//! One inotify instance per process. Directory watches report the names a token cares about
//! (created, deleted, renamed) and the directory's own end; file watches report the last close
//! of a lock file's open file description — the kernel closes a dead holder's descriptors, so
//! this is also how a holder's death is seen (checked by `tests/waiting.rs`).

use super::super::{retry_eintr, Ready, Token, WatchError};
use crate::base::maps::Map;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const DIR_MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;
/// Our own inspections never close a watched file (the service keeps the descriptor it
/// judged and re-reads it), so every close reported here is someone else's.
const FILE_MASK: u32 = libc::IN_CLOSE_WRITE | libc::IN_CLOSE_NOWRITE;

#[derive(Default)]
struct DirWatch {
    names: Map<OsString, Vec<Token>>,
}

#[derive(Default)]
struct Sources {
    /// (directory watch, name) of the token's lock path.
    entry: Option<(i32, OsString)>,
    /// The watch of the lock file the token last judged.
    file: Option<i32>,
}

pub struct Inotify {
    fd: OwnedFd,
    dirs: Map<i32, DirWatch>,
    files: Map<i32, Vec<Token>>,
    by_token: Map<Token, Sources>,
}

fn detach(tokens: &mut Vec<Token>, token: Token) -> bool {
    tokens.retain(|&t| t != token);
    tokens.is_empty()
}

impl Inotify {
    pub fn new() -> io::Result<Inotify> {
        // SAFETY: plain system call; the fd is owned at once.
        let fd =
            retry_eintr(|| unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        Ok(Inotify {
            // SAFETY: the descriptor was just returned to us.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            dirs: Map::default(),
            files: Map::default(),
            by_token: Map::default(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn add_watch(&self, path: &Path, mask: u32) -> Result<i32, WatchError> {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| WatchError::Failed)?;
        // SAFETY: valid inotify fd and NUL-terminated path.
        retry_eintr(|| unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), mask) })
            .map_err(WatchError::from_io)
    }

    fn rm_watch(&self, wd: i32) {
        // SAFETY: valid inotify fd; a watch the kernel already dropped only yields EINVAL.
        unsafe { libc::inotify_rm_watch(self.fd.as_raw_fd(), wd) };
    }

    pub fn watch_entry(
        &mut self,
        token: Token,
        dir: &Path,
        name: &OsStr,
    ) -> Result<(), WatchError> {
        if self.by_token.get(&token).is_some_and(|s| s.entry.is_some()) {
            return Ok(());
        }
        let wd = self.add_watch(dir, DIR_MASK)?;
        let tokens = self
            .dirs
            .entry(wd)
            .or_default()
            .names
            .entry(name.to_os_string())
            .or_default();
        tokens.push(token);
        self.by_token.entry(token).or_default().entry = Some((wd, name.to_os_string()));
        Ok(())
    }

    /// Watches the very file `file` is open on (through `/proc/self/fd`, so not whatever the
    /// path names by now), in place of the token's previous file.
    pub fn watch_file(&mut self, token: Token, file: &File) -> Result<(), WatchError> {
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let wd = self.add_watch(Path::new(&proc_path), FILE_MASK)?;
        let previous = self.by_token.entry(token).or_default().file.replace(wd);
        if previous == Some(wd) {
            return Ok(());
        }
        if let Some(old) = previous {
            self.drop_file_token(old, token);
        }
        self.files.entry(wd).or_default().push(token);
        Ok(())
    }

    fn drop_file_token(&mut self, wd: i32, token: Token) {
        if self.files.get_mut(&wd).is_some_and(|t| detach(t, token)) {
            self.files.remove(&wd);
            self.rm_watch(wd);
        }
    }

    pub fn forget(&mut self, token: Token) {
        let Some(sources) = self.by_token.remove(&token) else {
            return;
        };
        if let Some(wd) = sources.file {
            self.drop_file_token(wd, token);
        }
        if let Some((wd, name)) = sources.entry {
            let Some(dir) = self.dirs.get_mut(&wd) else {
                return;
            };
            if dir.names.get_mut(&name).is_some_and(|t| detach(t, token)) {
                dir.names.remove(&name);
            }
            if dir.names.is_empty() {
                self.dirs.remove(&wd);
                self.rm_watch(wd);
            }
        }
    }

    /// Drains every pending event into `ready`.
    pub fn read_events(&mut self, ready: &mut Ready) {
        // u64 elements keep the buffer aligned for `inotify_event`.
        let mut buf = [0u64; 1024];
        loop {
            // SAFETY: reading into a buffer we own, of the stated size.
            let n = retry_eintr(|| unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    std::mem::size_of_val(&buf),
                )
            });
            let Ok(n @ 1..) = n.map(|n| n as usize) else {
                return; // EAGAIN: drained
            };
            // SAFETY: the u64 buffer viewed as the n bytes the kernel wrote.
            let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
            self.parse(bytes, ready);
        }
    }

    fn parse(&mut self, bytes: &[u8], ready: &mut Ready) {
        let header = std::mem::size_of::<libc::inotify_event>();
        let mut at = 0;
        while at + header <= bytes.len() {
            // SAFETY: the kernel writes whole events; read_unaligned tolerates any offset.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(bytes[at..].as_ptr().cast()) };
            let name_end = (at + header + ev.len as usize).min(bytes.len());
            let name = &bytes[at + header..name_end];
            at = name_end;
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                ready.lost = true;
            } else if self.dirs.contains_key(&ev.wd) {
                self.dir_event(ev.wd, ev.mask, name, ready);
            } else if let Some(tokens) = self.files.get(&ev.wd) {
                ready.tokens.extend(tokens);
                if ev.mask & libc::IN_IGNORED != 0 {
                    self.file_gone(ev.wd);
                }
            }
        }
    }

    fn dir_event(&mut self, wd: i32, mask: u32, name: &[u8], ready: &mut Ready) {
        let gone = libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF;
        if mask & gone == 0 {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = OsStr::from_bytes(&name[..end]);
            if let Some(tokens) = self.dirs.get(&wd).and_then(|d| d.names.get(name)) {
                ready.tokens.extend(tokens);
            }
            return;
        }
        // The directory is gone or moved: everyone waiting in it looks again, and re-watches.
        let Some(dir) = self.dirs.remove(&wd) else {
            return;
        };
        if mask & libc::IN_IGNORED == 0 {
            self.rm_watch(wd);
        }
        for token in dir.names.into_values().flatten() {
            if let Some(sources) = self.by_token.get_mut(&token) {
                sources.entry = None;
            }
            ready.tokens.push(token);
            ready.unwatched.push(token);
        }
    }

    /// The kernel dropped a file's watch (the file was deleted and its last user closed it).
    fn file_gone(&mut self, wd: i32) {
        for token in self.files.remove(&wd).unwrap_or_default() {
            if let Some(sources) = self.by_token.get_mut(&token) {
                if sources.file == Some(wd) {
                    sources.file = None;
                }
            }
        }
    }
}
