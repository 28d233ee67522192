//! Waiting on macOS and FreeBSD: one kqueue gathers the waker (`EVFILT_USER`), one vnode watch
//! (`EVFILT_VNODE`) per directory with waiters, one per waited-on lock file where the kernel
//! reports closes (FreeBSD's `NOTE_CLOSE`; not macOS), and one process watch (`EVFILT_PROC`,
//! `NOTE_EXIT`) per holder's pid. `watches.rs` keeps the books; the platform module says how a
//! directory is opened and how a file's closes are watched, if at all.
//!
//! Every watch descriptor belongs to the poller: closing it removes its kevents, so forgetting
//! a token is closing its descriptors (and deleting a pid's kevent). The descriptors are
//! close-on-exec; a child forked without exec keeps copies, which only hold the files open.

use super::platform::{CLOSES, DIR_OPEN_FLAGS};
use super::watches::{Entry, Event, Handle, Ident, Watches};
use super::{file_id, open_raw, retry, retry_eintr, EventSources, Ready, Token, WatchError};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// How the last close of a lock file is watched where the kernel reports it.
pub struct Closes {
    /// The `EVFILT_VNODE` notes that report a close.
    pub notes: u32,
    /// A descriptor of the same file with its own open file description: a `dup` would keep
    /// the service's (and a flock it took) open after the service closes its own.
    pub reopen: fn(&File) -> io::Result<OwnedFd>,
}

/// A name created, removed or renamed in the directory, or the directory itself going away.
const DIR_NOTES: u32 = libc::NOTE_WRITE
    | libc::NOTE_EXTEND
    | libc::NOTE_DELETE
    | libc::NOTE_RENAME
    | libc::NOTE_REVOKE;
/// The watched directory is gone (deleted, moved, its filesystem unmounted).
const GONE_NOTES: u32 = libc::NOTE_DELETE | libc::NOTE_RENAME | libc::NOTE_REVOKE;
/// The waker's ident (`EVFILT_USER` idents are not descriptors).
const WAKE_IDENT: usize = 0;
/// Events taken per wait; more are left for the next.
const BATCH: usize = 64;
/// The longest sleep asked of the kernel (the caller's loop simply waits again).
const LONGEST_SLEEP_S: u128 = 86_400;

impl Handle for OwnedFd {
    fn ident(&self) -> Ident {
        usize::try_from(self.as_raw_fd()).unwrap_or(usize::MAX)
    }
}

fn kevent(ident: usize, filter: i16, flags: u16, fflags: u32) -> libc::kevent {
    // SAFETY: a plain C struct for which all-zero bytes are valid (null udata, no `ext`).
    let mut ev: libc::kevent = unsafe { std::mem::zeroed() };
    ev.ident = ident;
    ev.filter = filter;
    ev.flags = flags;
    ev.fflags = fflags;
    ev
}

/// Applies one change to the kqueue; it collects no events, so a failure is `-1` and `errno`.
/// Retried on `EINTR`: adding or triggering twice is the same as once.
fn change(kq: RawFd, ev: &libc::kevent) -> io::Result<()> {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let none = std::ptr::null_mut();
    // SAFETY: one valid change, no event buffer, a zero timeout (the call never sleeps).
    retry_eintr(|| unsafe { libc::kevent(kq, ev, 1, none, 0, &zero) }).map(drop)
}

/// Wakes the poller from another thread (triggers its `EVFILT_USER` event). Copyable: the
/// poller owns the kqueue and lives as long as the process's lock service.
#[derive(Debug, Clone, Copy)]
pub struct Waker(RawFd);

impl Waker {
    pub fn wake(&self) {
        let ev = kevent(WAKE_IDENT, libc::EVFILT_USER, 0, libc::NOTE_TRIGGER);
        let _ = change(self.0, &ev);
    }
}

pub struct Poller {
    kq: OwnedFd,
    /// Vnode watches allowed (directories).
    files: bool,
    /// How file closes are watched, where the platform reports them (and they are allowed).
    closes: Option<&'static Closes>,
    watches: Watches<OwnedFd>,
}

/// What `name` in the directory `dir` leads to now (not following a symlink).
fn entry_at(dir: &OwnedFd, name: &OsStr) -> Entry {
    let Ok(name) = CString::new(name.as_bytes()) else {
        return Entry::Unreadable(libc::EINVAL);
    };
    let mut st = MaybeUninit::<libc::stat>::uninit();
    let flags = libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: a directory descriptor we own, a NUL-terminated name and a buffer to fill.
    let rc = retry_eintr(|| unsafe {
        libc::fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), flags)
    });
    match rc {
        Ok(_) => {
            // SAFETY: fstatat succeeded, so it filled the buffer.
            let st = unsafe { st.assume_init() };
            // Field types differ between the platforms; i128 holds each of them.
            let wide = |v: i128| v as u64;
            Entry::Present {
                id: (wide(st.st_dev.into()), wide(st.st_ino.into())),
                kind: u32::from(st.st_mode & libc::S_IFMT),
                born_ns: i128::from(st.st_birthtime) * 1_000_000_000
                    + i128::from(st.st_birthtime_nsec),
            }
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::ENOENT) => Entry::Absent,
            errno => Entry::Unreadable(errno.unwrap_or(0)),
        },
    }
}

/// One kevent as the bookkeeping reads it (errors, which only changes report, are skipped).
fn event_of(ev: &libc::kevent) -> Option<Event> {
    let (ident, filter, flags, fflags) = (ev.ident, ev.filter, ev.flags, ev.fflags);
    if flags & libc::EV_ERROR != 0 {
        return None;
    }
    match filter {
        libc::EVFILT_USER => Some(Event::Woken),
        libc::EVFILT_VNODE => Some(Event::Vnode {
            ident,
            gone: fflags & GONE_NOTES != 0,
        }),
        libc::EVFILT_PROC if fflags & libc::NOTE_EXIT != 0 => {
            u32::try_from(ident).ok().map(|pid| Event::Exit { pid })
        }
        _ => None,
    }
}

/// `timeout` rounded up to the millisecond (a timer is never woken for just before it is
/// due), at most a day.
fn timespec(timeout: Duration) -> libc::timespec {
    let ms = timeout
        .as_nanos()
        .div_ceil(1_000_000)
        .min(LONGEST_SLEEP_S * 1000);
    libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    }
}

impl Poller {
    /// The poller, and why there are no file events when they are switched off. Fails only
    /// when it cannot wait at all.
    pub fn new(sources: EventSources) -> io::Result<(Poller, Option<String>)> {
        // SAFETY: a plain system call.
        let kq = retry_eintr(|| unsafe { libc::kqueue() })?;
        // SAFETY: the descriptor was just returned to us.
        let kq = unsafe { OwnedFd::from_raw_fd(kq) };
        // A kqueue is never inherited by fork; close-on-exec keeps it from exec'd programs.
        // SAFETY: fcntl on a descriptor we own.
        retry_eintr(|| unsafe { libc::fcntl(kq.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        let wake = kevent(
            WAKE_IDENT,
            libc::EVFILT_USER,
            libc::EV_ADD | libc::EV_CLEAR,
            0,
        );
        change(kq.as_raw_fd(), &wake)?;
        let why = (!sources.files).then(|| "kqueue file events switched off".to_string());
        let poller = Poller {
            kq,
            files: sources.files,
            closes: CLOSES.as_ref().filter(|_| sources.closes),
            watches: Watches::default(),
        };
        Ok((poller, why))
    }

    pub fn waker(&self) -> Waker {
        Waker(self.kq.as_raw_fd())
    }

    /// The descriptors a forked child must close (watch descriptors are close-on-exec).
    pub fn fixed_fds(&self) -> Vec<RawFd> {
        vec![self.kq.as_raw_fd()]
    }

    /// Whether this platform reports the last close of a file (FreeBSD; not macOS).
    /// `watch_file` may still fail (file events switched off): then the path is polled.
    pub fn sees_closes(&self) -> bool {
        self.closes.is_some()
    }

    /// Registers a vnode watch on a descriptor the caller then hands to `watches`.
    fn watch_vnode(&self, fd: &OwnedFd, notes: u32) -> Result<(), WatchError> {
        let flags = libc::EV_ADD | libc::EV_CLEAR;
        let ev = kevent(fd.ident(), libc::EVFILT_VNODE, flags, notes);
        change(self.kq.as_raw_fd(), &ev).map_err(WatchError::from_io)
    }

    /// The watch of directory `dir`, opened unless one of the same directory is open.
    fn dir_watch(&mut self, dir: &Path) -> Result<Ident, WatchError> {
        let meta = retry(|| std::fs::metadata(dir)).map_err(WatchError::from_io)?;
        if let Some(ident) = self.watches.dir_ident((meta.dev(), meta.ino())) {
            return Ok(ident);
        }
        let path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| WatchError::Failed)?;
        let opened = open_raw(&path, DIR_OPEN_FLAGS, 0).map_err(WatchError::from_io)?;
        let id = file_id(&opened).map_err(WatchError::from_io)?;
        if let Some(ident) = self.watches.dir_ident(id) {
            return Ok(ident); // replaced since the stat by one we watch already
        }
        let fd = OwnedFd::from(opened);
        self.watch_vnode(&fd, DIR_NOTES)?;
        Ok(self.watches.add_dir(id, fd))
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
        if self.watches.entry_watched(token) {
            return Ok(());
        }
        let ident = self.dir_watch(dir)?;
        self.watches.add_entry(token, ident, name, entry_at);
        Ok(())
    }

    /// Watches the closes of the very file `file` is open on, in place of the token's previous
    /// file (where closes are reported at all).
    pub fn watch_file(&mut self, token: Token, file: &File) -> Result<(), WatchError> {
        let Some(closes) = self.closes.filter(|_| self.files) else {
            return Err(WatchError::Unsupported);
        };
        let id = file_id(file).map_err(WatchError::from_io)?;
        if self.watches.file_is(token, id) {
            return Ok(());
        }
        let fd = (closes.reopen)(file).map_err(WatchError::from_io)?;
        self.watch_vnode(&fd, closes.notes)?;
        self.watches.set_file(token, id, fd);
        Ok(())
    }

    /// Watches the end of process `pid`. `ESRCH` (it has ended already, or may not be seen)
    /// is `Failed`, as for a pidfd on Linux: the service polls the path.
    pub fn watch_pid(&mut self, token: Token, pid: u32) -> Result<(), WatchError> {
        if self.watches.pid_of(token) == Some(pid) {
            return Ok(());
        }
        if let Some(old) = self.watches.drop_pid(token) {
            self.unwatch_pid(old);
        }
        if !self.watches.pid_watched(pid) {
            let valid = libc::pid_t::try_from(pid).is_ok_and(|p| p > 0);
            let ident = usize::try_from(pid)
                .ok()
                .filter(|_| valid)
                .ok_or(WatchError::Failed)?;
            let flags = libc::EV_ADD | libc::EV_ONESHOT;
            let ev = kevent(ident, libc::EVFILT_PROC, flags, libc::NOTE_EXIT);
            change(self.kq.as_raw_fd(), &ev).map_err(WatchError::from_io)?;
        }
        self.watches.add_pid(token, pid);
        Ok(())
    }

    fn unwatch_pid(&self, pid: u32) {
        let Ok(ident) = usize::try_from(pid) else {
            return;
        };
        let ev = kevent(ident, libc::EVFILT_PROC, libc::EV_DELETE, 0);
        // A process that has ended took its kevent along (ENOENT): nothing to undo.
        let _ = change(self.kq.as_raw_fd(), &ev);
    }

    /// Drops every source of `token`.
    pub fn forget(&mut self, token: Token) {
        if let Some(pid) = self.watches.forget(token) {
            self.unwatch_pid(pid);
        }
    }

    /// Sleeps until woken, a source fires or `timeout` passes (`None`: no timeout).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Ready {
        let limit = timeout.map(timespec);
        let limit_ptr = limit.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
        // SAFETY: plain C structs for which all-zero bytes are valid.
        let mut buf: [libc::kevent; BATCH] = unsafe { std::mem::zeroed() };
        let (changes, none) = (std::ptr::null(), 0);
        // SAFETY: a valid kqueue, no changes, a buffer of BATCH events, a valid or null timeout.
        let n = unsafe {
            libc::kevent(
                self.kq.as_raw_fd(),
                changes,
                none,
                buf.as_mut_ptr(),
                BATCH as libc::c_int,
                limit_ptr,
            )
        };
        // EINTR (or any failure) is an empty wake-up: the caller's loop looks at its timers.
        let n = usize::try_from(n).unwrap_or(0).min(BATCH);
        let events: Vec<Event> = buf[..n].iter().filter_map(event_of).collect();
        self.watches.decode(&events, entry_at)
    }
}

// Compiled by `scripts/check-targets.sh`; they run only on macOS and FreeBSD.
#[cfg(test)]
mod tests {
    use super::*;

    fn poller() -> Poller {
        Poller::new(EventSources::ALL).unwrap().0
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("swl-kq-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_waker_wakes_and_the_timeout_passes() {
        let mut poller = poller();
        let started = std::time::Instant::now();
        assert!(!poller.wait(Some(Duration::from_millis(30))).woken);
        assert!(started.elapsed() >= Duration::from_millis(30));
        poller.waker().wake();
        assert!(poller.wait(Some(Duration::from_secs(60))).woken);
    }

    /// The waited-on name coming and going is reported; another name beside it is not.
    #[test]
    fn an_entry_watch_reports_its_name_only() {
        let dir = scratch("entry");
        let mut poller = poller();
        poller.watch_entry(3, &dir, OsStr::new("a.lock")).unwrap();
        std::fs::write(dir.join(".a.lock.1.tmp"), b"x").unwrap();
        std::fs::remove_file(dir.join(".a.lock.1.tmp")).unwrap();
        let ready = poller.wait(Some(Duration::from_millis(100)));
        assert!(ready.tokens.is_empty(), "{ready:?}");
        std::fs::write(dir.join("a.lock"), b"x").unwrap();
        assert_eq!(poller.wait(Some(Duration::from_secs(10))).tokens, vec![3]);
        std::fs::remove_file(dir.join("a.lock")).unwrap();
        assert_eq!(poller.wait(Some(Duration::from_secs(10))).tokens, vec![3]);
        std::fs::remove_dir(&dir).unwrap();
        let ready = poller.wait(Some(Duration::from_secs(10)));
        assert_eq!((ready.tokens, ready.unwatched), (vec![3], vec![3]));
        poller.forget(3);
    }

    /// Where closes are reported, another process's close of the file is seen.
    #[test]
    fn a_file_watch_reports_a_close_where_the_platform_has_them() {
        let dir = scratch("file");
        let path = dir.join("a.lock");
        std::fs::write(&path, b"x").unwrap();
        let file = File::open(&path).unwrap();
        let mut poller = poller();
        let watched = poller.watch_file(4, &file);
        if poller.sees_closes() {
            watched.unwrap();
            drop(File::open(&path).unwrap());
            assert_eq!(poller.wait(Some(Duration::from_secs(10))).tokens, vec![4]);
            poller.forget(4);
        } else {
            assert!(matches!(watched, Err(WatchError::Unsupported)));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A pid watch stays quiet while the process lives and reports its end once.
    #[test]
    fn a_pid_watch_reports_the_end_of_the_process() {
        let mut poller = poller();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        poller.watch_pid(7, child.id()).unwrap();
        poller.watch_pid(8, child.id()).unwrap();
        assert!(poller
            .wait(Some(Duration::from_millis(100)))
            .tokens
            .is_empty());
        child.kill().unwrap();
        let ready = poller.wait(Some(Duration::from_secs(10)));
        assert_eq!((ready.tokens, ready.ended.len()), (vec![7, 8], 2));
        child.wait().unwrap();
        assert!(matches!(
            poller.watch_pid(9, child.id()),
            Err(WatchError::Failed)
        ));
        assert!(poller
            .wait(Some(Duration::from_millis(50)))
            .tokens
            .is_empty());
    }
}
