//! Waiting on Windows: one `WaitForMultipleObjects` over the waker's event, a process handle
//! per watched holder (signalled when it ends: exit, crash, `TerminateProcess`) and an event
//! per watched directory, completed by an overlapped `ReadDirectoryChangesW` that reports the
//! names created, deleted or renamed in it. File closes are not reported (`sees_closes` is
//! false): the service watches the holder's process instead, as on macOS.
//!
//! One wait takes at most 64 handles: past that a watch is `Exhausted` and the service polls
//! that path with backoff (logged once).

use super::process::Process;
use crate::base::maps::Map;
use crate::sys::{EventSources, Ready, Token, WatchError};
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::{Path, PathBuf};
use std::time::Duration;
use windows_sys::Win32::Foundation::{HANDLE, WAIT_FAILED, WAIT_OBJECT_0};
use windows_sys::Win32::Storage::FileSystem as FS;
use windows_sys::Win32::System::Threading::{
    CreateEventW, SetEvent, WaitForMultipleObjects, WaitForSingleObject, INFINITE,
};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};

/// `WaitForMultipleObjects`' limit.
const MAX_HANDLES: usize = 64;

/// Wakes the poller from another thread: sets its event. The event lives as long as the
/// poller, which lives as long as the service.
#[derive(Debug, Clone, Copy)]
pub struct Waker(usize);

impl Waker {
    pub fn wake(&self) {
        // SAFETY: the poller's event handle, open for the service's life.
        unsafe { SetEvent(self.0 as HANDLE) };
    }
}

fn event() -> io::Result<OwnedHandle> {
    // SAFETY: an unnamed auto-reset event, not signalled; null is failure.
    let h = unsafe { CreateEventW(std::ptr::null(), 0, 0, std::ptr::null()) };
    if h.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new handle, owned from now on.
    Ok(unsafe { OwnedHandle::from_raw_handle(h) })
}

/// A directory whose names are watched: its handle, the read in flight, the tokens by name.
struct Dir {
    handle: File,
    event: OwnedHandle,
    /// Boxed: the kernel writes to both while a read is in flight.
    overlapped: Box<OVERLAPPED>,
    buffer: Box<[u32; 4096]>,
    names: Map<OsString, Vec<Token>>,
}

impl Dir {
    fn open(path: &Path) -> io::Result<Dir> {
        let share = FS::FILE_SHARE_READ | FS::FILE_SHARE_WRITE | FS::FILE_SHARE_DELETE;
        let handle = OpenOptions::new()
            .access_mode(FS::FILE_LIST_DIRECTORY)
            .share_mode(share)
            .custom_flags(FS::FILE_FLAG_BACKUP_SEMANTICS | FS::FILE_FLAG_OVERLAPPED)
            .open(path)?;
        let mut dir = Dir {
            handle,
            event: event()?,
            // SAFETY: OVERLAPPED is plain data; zeroes are its initial state.
            overlapped: Box::new(unsafe { std::mem::zeroed() }),
            buffer: Box::new([0; 4096]),
            names: Map::default(),
        };
        dir.read()?;
        Ok(dir)
    }

    /// Starts the next read of changes (changes made meanwhile are kept by the system).
    fn read(&mut self) -> io::Result<()> {
        self.overlapped.hEvent = self.event.as_raw_handle();
        // SAFETY: a directory handle opened for overlapped reads; the buffer and OVERLAPPED
        // are boxed and outlive the read (Drop cancels it and waits).
        let ok = unsafe {
            FS::ReadDirectoryChangesW(
                self.handle.as_raw_handle(),
                self.buffer.as_mut_ptr().cast(),
                std::mem::size_of_val(&*self.buffer) as u32,
                0,
                FS::FILE_NOTIFY_CHANGE_FILE_NAME | FS::FILE_NOTIFY_CHANGE_DIR_NAME,
                std::ptr::null_mut(),
                &mut *self.overlapped,
                None,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The names a completed read reports; `None` when the watch ended (the directory went
    /// away) and `Some(None)` when the system lost changes (its buffer overflowed).
    fn completed(&mut self) -> Option<Option<Vec<OsString>>> {
        let mut bytes = 0u32;
        // SAFETY: the read started by `read`, completed (its event was signalled).
        let ok = unsafe {
            GetOverlappedResult(
                self.handle.as_raw_handle(),
                &*self.overlapped,
                &mut bytes,
                0,
            )
        };
        if ok == 0 {
            return None;
        }
        let names = (bytes > 0).then(|| self.parse(bytes as usize));
        self.read().ok()?;
        Some(names)
    }

    /// The FILE_NOTIFY_INFORMATION records in the buffer's first `len` bytes.
    fn parse(&self, len: usize) -> Vec<OsString> {
        let words: &[u32] = &self.buffer[..];
        let mut names = Vec::new();
        let mut at = 0usize; // in bytes, always 4-aligned
        while at + 12 <= len {
            let next = words[at / 4] as usize;
            let name_len = words[at / 4 + 2] as usize;
            let start = at + 12;
            if start + name_len > len {
                break;
            }
            // SAFETY: the name's UTF-16 units lie within the buffer (checked above); the
            // buffer is 4-aligned, so 2-aligned.
            let units = unsafe {
                std::slice::from_raw_parts(
                    (self.buffer.as_ptr() as *const u8).add(start).cast::<u16>(),
                    name_len / 2,
                )
            };
            names.push(OsString::from_wide(units));
            if next == 0 {
                break;
            }
            at += next;
        }
        names
    }
}

// SAFETY: the only pointers in a Dir are its own OVERLAPPED's event handle, owned by the Dir
// and valid from any thread.
unsafe impl Send for Dir {}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: cancels our own read and waits for it, so the kernel no longer writes to the
        // buffer or OVERLAPPED freed after this.
        unsafe {
            CancelIoEx(self.handle.as_raw_handle(), &*self.overlapped);
            let mut bytes = 0;
            GetOverlappedResult(
                self.handle.as_raw_handle(),
                &*self.overlapped,
                &mut bytes,
                1,
            );
        }
    }
}

#[derive(Default)]
struct Sources {
    entry: Option<(PathBuf, OsString)>,
    pid: Option<u32>,
}

pub struct Poller {
    wake: OwnedHandle,
    files: bool,
    dirs: Map<PathBuf, Dir>,
    pids: Map<u32, (Process, Vec<Token>)>,
    by_token: Map<Token, Sources>,
}

impl Poller {
    pub fn new(sources: EventSources) -> io::Result<(Poller, Option<String>)> {
        let why = (!sources.files).then(|| "directory events are switched off".to_string());
        let poller = Poller {
            wake: event()?,
            files: sources.files,
            dirs: Map::default(),
            pids: Map::default(),
            by_token: Map::default(),
        };
        Ok((poller, why))
    }

    pub fn waker(&self) -> Waker {
        Waker(self.wake.as_raw_handle() as usize)
    }

    pub fn sees_closes(&self) -> bool {
        false
    }

    fn handles(&self) -> usize {
        1 + self.dirs.len() + self.pids.len()
    }

    fn full() -> WatchError {
        let e = io::Error::other("64 handles per wait (WaitForMultipleObjects)");
        WatchError::Exhausted(e)
    }

    pub fn watch_entry(
        &mut self,
        token: Token,
        dir: &Path,
        name: &OsStr,
    ) -> Result<(), WatchError> {
        if !self.files {
            return Err(WatchError::Unsupported);
        }
        self.forget_entry(token);
        if !self.dirs.contains_key(dir) {
            if self.handles() >= MAX_HANDLES {
                return Err(Self::full());
            }
            let open = Dir::open(dir).map_err(|_| WatchError::Failed)?;
            self.dirs.insert(dir.to_path_buf(), open);
        }
        if let Some(d) = self.dirs.get_mut(dir) {
            d.names.entry(name.to_os_string()).or_default().push(token);
        }
        self.by_token.entry(token).or_default().entry = Some((dir.to_path_buf(), name.into()));
        Ok(())
    }

    /// Closes are not reported on Windows: the service watches the holder's process.
    pub fn watch_file(&mut self, _: Token, _: &File) -> Result<(), WatchError> {
        Err(WatchError::Unsupported)
    }

    pub fn watch_pid(&mut self, token: Token, pid: u32) -> Result<(), WatchError> {
        self.drop_pid(token);
        if !self.pids.contains_key(&pid) {
            if self.handles() >= MAX_HANDLES {
                return Err(Self::full());
            }
            let process = match Process::open(pid) {
                Ok(Some(p)) => p,
                _ => return Err(WatchError::Failed),
            };
            self.pids.insert(pid, (process, Vec::new()));
        }
        if let Some((_, tokens)) = self.pids.get_mut(&pid) {
            tokens.push(token);
        }
        self.by_token.entry(token).or_default().pid = Some(pid);
        Ok(())
    }

    fn forget_entry(&mut self, token: Token) {
        let Some((dir, name)) = self.by_token.get_mut(&token).and_then(|s| s.entry.take()) else {
            return;
        };
        let Some(d) = self.dirs.get_mut(&dir) else {
            return;
        };
        if let Some(tokens) = d.names.get_mut(&name) {
            tokens.retain(|&t| t != token);
            if tokens.is_empty() {
                d.names.remove(&name);
            }
        }
        if d.names.is_empty() {
            self.dirs.remove(&dir);
        }
    }

    fn drop_pid(&mut self, token: Token) {
        let Some(pid) = self.by_token.get_mut(&token).and_then(|s| s.pid.take()) else {
            return;
        };
        if let Some((_, tokens)) = self.pids.get_mut(&pid) {
            tokens.retain(|&t| t != token);
            if tokens.is_empty() {
                self.pids.remove(&pid);
            }
        }
    }

    pub fn forget(&mut self, token: Token) {
        self.forget_entry(token);
        self.drop_pid(token);
        self.by_token.remove(&token);
    }

    pub fn wait(&mut self, timeout: Option<Duration>) -> Ready {
        let mut ready = Ready::default();
        let dirs: Vec<(PathBuf, HANDLE)> = (self.dirs.iter())
            .map(|(path, d)| (path.clone(), d.event.as_raw_handle()))
            .collect();
        let pids: Vec<(u32, HANDLE)> = (self.pids.iter())
            .map(|(&pid, (p, _))| (pid, p.handle()))
            .collect();
        let handles: Vec<HANDLE> = [self.wake.as_raw_handle()]
            .into_iter()
            .chain(dirs.iter().map(|d| d.1))
            .chain(pids.iter().map(|p| p.1))
            .collect();
        let ms = timeout.map_or(INFINITE, |t| {
            u32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(INFINITE - 1)
        });
        crate::base::stats::poller_sleeps(Some(handles.len() - 1));
        // SAFETY: handles we own, at most MAX_HANDLES of them.
        let rc = unsafe { WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), 0, ms) };
        crate::base::stats::poller_sleeps(None);
        if rc == WAIT_FAILED || rc >= WAIT_OBJECT_0 + handles.len() as u32 {
            return ready; // a timeout, or nothing to tell (looked at again on the next wait)
        }
        // Every handle signalled by now, not only the first one.
        let signalled = |h: HANDLE| unsafe { WaitForSingleObject(h, 0) } == WAIT_OBJECT_0;
        // The auto-reset events that fired were reset by the wait that saw them.
        let first = (rc - WAIT_OBJECT_0) as usize;
        ready.woken = first == 0 || signalled(handles[0]);
        for (i, (path, event)) in dirs.iter().enumerate() {
            if first == i + 1 || signalled(*event) {
                self.dir_changed(path, &mut ready);
            }
        }
        for (pid, process) in pids {
            if signalled(process) {
                self.pid_ended(pid, &mut ready);
            }
        }
        ready.tokens.sort_unstable();
        ready.tokens.dedup();
        ready
    }

    fn dir_changed(&mut self, path: &Path, ready: &mut Ready) {
        let Some(dir) = self.dirs.get_mut(path) else {
            return;
        };
        match dir.completed() {
            Some(Some(names)) => {
                for name in names {
                    if let Some(tokens) = dir.names.get(&name) {
                        ready.tokens.extend(tokens);
                    }
                }
            }
            Some(None) => ready.lost = true,
            None => {
                // The directory went away: its waiters look again and watch again.
                if let Some(mut gone) = self.dirs.remove(path) {
                    for token in std::mem::take(&mut gone.names).into_values().flatten() {
                        if let Some(s) = self.by_token.get_mut(&token) {
                            s.entry = None;
                        }
                        ready.tokens.push(token);
                        ready.unwatched.push(token);
                    }
                }
            }
        }
    }

    fn pid_ended(&mut self, pid: u32, ready: &mut Ready) {
        let Some((_, tokens)) = self.pids.remove(&pid) else {
            return;
        };
        for token in tokens {
            if let Some(s) = self.by_token.get_mut(&token) {
                s.pid = None;
            }
            ready.tokens.push(token);
            ready.ended.push(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("swl-poller-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The waker wakes at once; a timeout passes; nothing else is reported.
    #[test]
    fn wakes_and_times_out() {
        let (mut poller, why) = Poller::new(EventSources::ALL).unwrap();
        assert!(why.is_none() && !poller.sees_closes());
        let started = Instant::now();
        let ready = poller.wait(Some(Duration::from_millis(30)));
        assert!(!ready.woken && ready.tokens.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(25));
        poller.waker().wake();
        let ready = poller.wait(Some(Duration::from_secs(60)));
        assert!(ready.woken && ready.tokens.is_empty());
    }

    /// A directory change wakes only the tokens of the names that changed: a created, then a
    /// deleted lock file; another name in the directory wakes nobody.
    #[test]
    fn a_directory_change_wakes_the_tokens_of_its_names() {
        let dir = scratch();
        let (mut poller, _) = Poller::new(EventSources::ALL).unwrap();
        poller.watch_entry(1, &dir, OsStr::new("a.lock")).unwrap();
        poller.watch_entry(2, &dir, OsStr::new("b.lock")).unwrap();
        std::fs::write(dir.join("other.tmp"), b"x").unwrap();
        std::fs::write(dir.join("a.lock"), b"x").unwrap();
        let mut woken = Vec::new();
        let started = Instant::now();
        while !woken.contains(&1) && started.elapsed() < Duration::from_secs(10) {
            woken.extend(poller.wait(Some(Duration::from_secs(10))).tokens);
        }
        assert_eq!(woken, vec![1], "only a.lock's waiter");
        std::fs::remove_file(dir.join("a.lock")).unwrap();
        let ready = poller.wait(Some(Duration::from_secs(10)));
        assert_eq!(ready.tokens, vec![1], "the deletion");
        poller.forget(1);
        poller.forget(2);
        assert!(
            poller.dirs.is_empty(),
            "the directory's watch ends with its last name"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A watched process's end (killed) wakes its token once, as ended; a pid with no process
    /// cannot be watched.
    #[test]
    fn a_killed_process_wakes_its_token() {
        let (mut poller, _) = Poller::new(EventSources::ALL).unwrap();
        let mut child = std::process::Command::new("cmd.exe")
            .args(["/d", "/c", "pause"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        poller.watch_pid(7, child.id()).unwrap();
        let ready = poller.wait(Some(Duration::from_millis(50)));
        assert!(ready.tokens.is_empty(), "alive: {ready:?}");
        child.kill().unwrap();
        let ready = poller.wait(Some(Duration::from_secs(10)));
        assert_eq!((ready.tokens, ready.ended), (vec![7], vec![7]));
        child.wait().unwrap();
        assert!(poller.pids.is_empty());
        assert!(matches!(
            poller.watch_pid(8, u32::MAX - 3),
            Err(WatchError::Failed)
        ));
    }
}
