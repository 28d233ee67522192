//! What a kqueue poller watches, and how a batch of its events becomes a [`Ready`]: pure
//! bookkeeping, compiled on every platform so that it is tested on Linux too (`kqueue.rs`
//! makes the system calls).
//!
//! kqueue says only that a directory changed, not which name. Each waited-on name in it is
//! looked at again (by the caller's `stat`) and its waiters are told only when what the name
//! leads to changed, as inotify's per-name events do. Without this, a waiter's own temp files
//! (created and removed beside the lock while it tries) would wake every waiter of the
//! directory, its own try included, over and over.

use super::{Ready, Token};
use crate::base::maps::Map;
use std::ffi::{OsStr, OsString};

/// A watch's descriptor, as kevent's `ident`.
pub type Ident = usize;

pub use super::FileId;

/// What a name in a watched directory leads to, enough to tell a file from its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Absent,
    /// `born_ns`: the birth time where the filesystem keeps one, so that a new file is told
    /// from an old one even when it got the freed inode number.
    Present {
        id: FileId,
        kind: u32,
        born_ns: i128,
    },
    /// Looking failed otherwise (the errno).
    Unreadable(i32),
}

/// One kevent, as `kqueue.rs` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The waker was triggered.
    Woken,
    /// A vnode watch fired; `gone`: its directory was deleted, renamed or revoked.
    Vnode { ident: Ident, gone: bool },
    /// A watched process ended.
    Exit { pid: u32 },
}

/// A watch's descriptor: dropping it ends the watch (closing a descriptor removes its kevents).
pub trait Handle {
    fn ident(&self) -> Ident;
}

struct Name {
    seen: Entry,
    tokens: Vec<Token>,
}

struct Dir<H> {
    handle: H,
    id: FileId,
    names: Map<OsString, Name>,
}

struct FileWatch<H> {
    handle: H,
    id: FileId,
}

/// A token's directory entry and process (its file is in `Watches::files`).
#[derive(Default)]
struct Sources {
    entry: Option<(Ident, OsString)>,
    pid: Option<u32>,
}

/// Every watch of one poller, by what its events carry.
pub struct Watches<H> {
    dirs: Map<Ident, Dir<H>>,
    files: Map<Token, FileWatch<H>>,
    file_tokens: Map<Ident, Token>,
    /// Several tokens may wait for one process: one kevent per pid.
    pids: Map<u32, Vec<Token>>,
    by_token: Map<Token, Sources>,
}

impl<H> Default for Watches<H> {
    fn default() -> Self {
        Watches {
            dirs: Map::default(),
            files: Map::default(),
            file_tokens: Map::default(),
            pids: Map::default(),
            by_token: Map::default(),
        }
    }
}

/// Removes `token`; true when none is left.
fn detach(tokens: &mut Vec<Token>, token: Token) -> bool {
    tokens.retain(|&t| t != token);
    tokens.is_empty()
}

impl<H: Handle> Watches<H> {
    pub fn entry_watched(&self, token: Token) -> bool {
        self.by_token.get(&token).is_some_and(|s| s.entry.is_some())
    }

    /// The watch of directory `id`, if one is open.
    pub fn dir_ident(&self, id: FileId) -> Option<Ident> {
        self.dirs
            .values()
            .find(|d| d.id == id)
            .map(|d| d.handle.ident())
    }

    pub fn add_dir(&mut self, id: FileId, handle: H) -> Ident {
        let ident = handle.ident();
        let names = Map::default();
        self.dirs.insert(ident, Dir { handle, id, names });
        ident
    }

    /// Watches `name` in the directory watch `dir` for `token`. `stat` says what the name
    /// leads to now, unless another token already watches it (its baseline is kept, so that a
    /// change it has not been told of yet is still reported).
    pub fn add_entry(
        &mut self,
        token: Token,
        dir: Ident,
        name: &OsStr,
        stat: impl FnOnce(&H, &OsStr) -> Entry,
    ) {
        let Some(watch) = self.dirs.get_mut(&dir) else {
            return;
        };
        let entry = match watch.names.get_mut(name) {
            Some(entry) => entry,
            None => {
                let seen = stat(&watch.handle, name);
                let fresh = Name {
                    seen,
                    tokens: Vec::new(),
                };
                watch.names.entry(name.to_os_string()).or_insert(fresh)
            }
        };
        entry.tokens.push(token);
        self.by_token.entry(token).or_default().entry = Some((dir, name.to_os_string()));
    }

    /// Whether `token` watches the file `id` already.
    pub fn file_is(&self, token: Token, id: FileId) -> bool {
        self.files.get(&token).is_some_and(|f| f.id == id)
    }

    /// Makes `handle` the token's file watch, ending the one it had.
    pub fn set_file(&mut self, token: Token, id: FileId, handle: H) {
        self.file_tokens.insert(handle.ident(), token);
        if let Some(old) = self.files.insert(token, FileWatch { handle, id }) {
            self.file_tokens.remove(&old.handle.ident());
        }
    }

    pub fn pid_of(&self, token: Token) -> Option<u32> {
        self.by_token.get(&token).and_then(|s| s.pid)
    }

    /// Whether a kevent for `pid` is registered (for some token).
    pub fn pid_watched(&self, pid: u32) -> bool {
        self.pids.contains_key(&pid)
    }

    pub fn add_pid(&mut self, token: Token, pid: u32) {
        self.pids.entry(pid).or_default().push(token);
        self.by_token.entry(token).or_default().pid = Some(pid);
    }

    /// Ends the token's pid watch; the pid whose kevent must be deleted when no token is left.
    #[must_use]
    pub fn drop_pid(&mut self, token: Token) -> Option<u32> {
        let pid = self.by_token.get_mut(&token)?.pid.take()?;
        let last = self.pids.get_mut(&pid).is_some_and(|t| detach(t, token));
        last.then(|| {
            self.pids.remove(&pid);
            pid
        })
    }

    /// Ends every watch of `token`: its descriptors are closed here; the pid whose kevent must
    /// be deleted is returned.
    #[must_use]
    pub fn forget(&mut self, token: Token) -> Option<u32> {
        if let Some(file) = self.files.remove(&token) {
            self.file_tokens.remove(&file.handle.ident());
        }
        let pid = self.drop_pid(token);
        let entry = self.by_token.remove(&token).and_then(|s| s.entry);
        if let Some((dir, name)) = entry {
            self.drop_name(dir, &name, token);
        }
        pid
    }

    fn drop_name(&mut self, dir: Ident, name: &OsStr, token: Token) {
        let Some(watch) = self.dirs.get_mut(&dir) else {
            return;
        };
        if watch
            .names
            .get_mut(name)
            .is_some_and(|n| detach(&mut n.tokens, token))
        {
            watch.names.remove(name);
        }
        if watch.names.is_empty() {
            self.dirs.remove(&dir);
        }
    }

    /// What a batch of events means for the tokens; `stat` looks at a name in a watched
    /// directory (relative to its descriptor). Directories that went away are unwatched here.
    pub fn decode(&mut self, events: &[Event], mut stat: impl FnMut(&H, &OsStr) -> Entry) -> Ready {
        let mut ready = Ready::default();
        for &event in events {
            match event {
                Event::Woken => ready.woken = true,
                Event::Vnode { ident, gone } => {
                    if let Some(&token) = self.file_tokens.get(&ident) {
                        ready.tokens.push(token);
                    } else if gone {
                        self.dir_gone(ident, &mut ready);
                    } else if let Some(dir) = self.dirs.get_mut(&ident) {
                        for (name, entry) in &mut dir.names {
                            let now = stat(&dir.handle, name);
                            if now != entry.seen {
                                entry.seen = now;
                                ready.tokens.extend(&entry.tokens);
                            }
                        }
                    }
                }
                Event::Exit { pid } => {
                    for token in self.pids.remove(&pid).unwrap_or_default() {
                        if let Some(sources) = self.by_token.get_mut(&token) {
                            sources.pid = None;
                        }
                        ready.tokens.push(token);
                        ready.ended.push(token);
                    }
                }
            }
        }
        ready.tokens.sort_unstable();
        ready.tokens.dedup();
        ready
    }

    /// Everyone waiting in a directory that went away looks again, and watches again.
    fn dir_gone(&mut self, ident: Ident, ready: &mut Ready) {
        let Some(dir) = self.dirs.remove(&ident) else {
            return;
        };
        for token in dir.names.into_values().flat_map(|n| n.tokens) {
            if let Some(sources) = self.by_token.get_mut(&token) {
                sources.entry = None;
            }
            ready.tokens.push(token);
            ready.unwatched.push(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A descriptor that records its close.
    struct Fd(Ident, Rc<RefCell<Vec<Ident>>>);

    impl Handle for Fd {
        fn ident(&self) -> Ident {
            self.0
        }
    }

    impl Drop for Fd {
        fn drop(&mut self) {
            self.1.borrow_mut().push(self.0);
        }
    }

    struct World {
        watches: Watches<Fd>,
        closed: Rc<RefCell<Vec<Ident>>>,
        /// What each name leads to now, by (directory ident, name).
        names: Map<(Ident, String), Entry>,
    }

    fn file(ino: u64) -> Entry {
        Entry::Present {
            id: (1, ino),
            kind: 0o100000,
            born_ns: 7,
        }
    }

    impl World {
        fn new() -> World {
            World {
                watches: Watches::default(),
                closed: Rc::default(),
                names: Map::default(),
            }
        }

        fn fd(&self, ident: Ident) -> Fd {
            Fd(ident, Rc::clone(&self.closed))
        }

        fn set(&mut self, dir: Ident, name: &str, entry: Entry) {
            self.names.insert((dir, name.to_string()), entry);
        }

        fn watch_entry(&mut self, token: Token, dir: Ident, name: &str) {
            let names = &self.names;
            let stat = |h: &Fd, n: &OsStr| lookup(names, h.0, n);
            self.watches.add_entry(token, dir, OsStr::new(name), stat);
        }

        fn decode(&mut self, events: &[Event]) -> Ready {
            let names = &self.names;
            self.watches.decode(events, |h, n| lookup(names, h.0, n))
        }
    }

    fn lookup(names: &Map<(Ident, String), Entry>, dir: Ident, name: &OsStr) -> Entry {
        let key = (dir, name.to_string_lossy().into_owned());
        names.get(&key).copied().unwrap_or(Entry::Absent)
    }

    fn changed(ident: Ident) -> Event {
        Event::Vnode { ident, gone: false }
    }

    /// A directory event reports only the tokens whose name now leads elsewhere; other names'
    /// comings and goings (temp files) report nobody.
    #[test]
    fn a_directory_change_reports_only_the_names_that_changed() {
        let mut w = World::new();
        let dir = w.watches.add_dir((1, 2), w.fd(10));
        assert_eq!(w.watches.dir_ident((1, 2)), Some(10));
        assert_eq!(w.watches.dir_ident((1, 3)), None);
        w.set(10, "a.lock", file(100));
        w.watch_entry(1, dir, "a.lock");
        w.watch_entry(2, dir, "b.lock");
        assert!(w.watches.entry_watched(1) && w.watches.entry_watched(2));
        assert!(!w.watches.entry_watched(3));

        w.set(10, ".a.lock.123.tmp", file(101));
        let ready = w.decode(&[changed(10)]);
        assert!(
            ready.tokens.is_empty(),
            "a temp file wakes nobody: {ready:?}"
        );

        w.set(10, "a.lock", Entry::Absent);
        assert_eq!(w.decode(&[changed(10)]).tokens, vec![1], "released");
        assert!(w.decode(&[changed(10)]).tokens.is_empty(), "told once");

        w.set(10, "b.lock", file(102));
        w.set(10, "a.lock", file(103));
        assert_eq!(w.decode(&[changed(10)]).tokens, vec![1, 2], "both taken");
        // The freed inode number again, but a file born later: another file.
        let reborn = Entry::Present {
            id: (1, 103),
            kind: 0o100000,
            born_ns: 8,
        };
        w.set(10, "a.lock", reborn);
        assert_eq!(w.decode(&[changed(10)]).tokens, vec![1]);
        w.set(10, "b.lock", Entry::Unreadable(libc::EACCES));
        assert_eq!(w.decode(&[changed(10)]).tokens, vec![2]);
        assert!(w.closed.borrow().is_empty());
    }

    /// A token joining a name another token watches keeps that name's baseline: a change the
    /// first has not been told of yet is still reported.
    #[test]
    fn a_second_token_on_a_name_keeps_its_baseline() {
        let mut w = World::new();
        let dir = w.watches.add_dir((1, 2), w.fd(10));
        w.set(10, "a.lock", file(100));
        w.watch_entry(1, dir, "a.lock");
        w.set(10, "a.lock", file(200));
        w.watch_entry(2, dir, "a.lock");
        assert_eq!(w.decode(&[changed(10)]).tokens, vec![1, 2]);
    }

    /// A directory that goes away wakes all its waiters, is closed, and their entries are to
    /// be watched again; later events of its descriptor number mean nothing.
    #[test]
    fn a_directory_that_goes_away_wakes_and_unwatches_its_waiters() {
        let mut w = World::new();
        let dir = w.watches.add_dir((1, 2), w.fd(10));
        let other = w.watches.add_dir((1, 3), w.fd(11));
        w.watch_entry(1, dir, "a.lock");
        w.watch_entry(2, dir, "b.lock");
        w.watch_entry(3, other, "c.lock");
        let ready = w.decode(&[Event::Vnode {
            ident: 10,
            gone: true,
        }]);
        assert_eq!(ready.tokens, vec![1, 2]);
        let mut unwatched = ready.unwatched.clone();
        unwatched.sort_unstable();
        assert_eq!(unwatched, vec![1, 2]);
        assert_eq!(*w.closed.borrow(), vec![10]);
        assert!(!w.watches.entry_watched(1) && w.watches.entry_watched(3));
        assert_eq!(w.watches.dir_ident((1, 2)), None);
        assert!(w.decode(&[changed(10)]).tokens.is_empty());
        // Watched again in a new directory of the same name.
        let again = w.watches.add_dir((1, 4), w.fd(12));
        w.watch_entry(1, again, "a.lock");
        assert!(w.watches.entry_watched(1));
        assert_eq!(w.watches.forget(1), None);
        assert_eq!(*w.closed.borrow(), vec![10, 12]);
    }

    /// File watches report their token; a new file replaces (closes) the old watch, the same
    /// file is recognised.
    #[test]
    fn file_watches_report_their_token_and_are_replaced() {
        let mut w = World::new();
        w.watches.set_file(5, (1, 100), w.fd(20));
        assert!(w.watches.file_is(5, (1, 100)) && !w.watches.file_is(5, (1, 101)));
        assert_eq!(w.decode(&[changed(20)]).tokens, vec![5]);
        w.watches.set_file(5, (1, 101), w.fd(21));
        assert_eq!(*w.closed.borrow(), vec![20]);
        assert!(
            w.decode(&[changed(20)]).tokens.is_empty(),
            "the old watch is gone"
        );
        assert_eq!(w.decode(&[changed(21)]).tokens, vec![5]);
        assert_eq!(w.watches.forget(5), None);
        assert_eq!(*w.closed.borrow(), vec![20, 21]);
        assert!(w.decode(&[changed(21)]).tokens.is_empty());
    }

    /// One kevent per pid, shared by its tokens: its exit ends every token's pid watch once;
    /// the last token to let go of a live pid deletes its kevent.
    #[test]
    fn pid_watches_are_shared_and_reported_once() {
        let mut w = World::new();
        w.watches.add_pid(1, 42);
        w.watches.add_pid(2, 42);
        w.watches.add_pid(3, 43);
        assert!(w.watches.pid_watched(42) && !w.watches.pid_watched(44));
        assert_eq!(w.watches.pid_of(1), Some(42));
        let ready = w.decode(&[Event::Exit { pid: 42 }, Event::Woken]);
        assert!(ready.woken);
        assert_eq!((ready.tokens.clone(), ready.ended.len()), (vec![1, 2], 2));
        assert!(!w.watches.pid_watched(42) && w.watches.pid_of(1).is_none());
        assert!(w.decode(&[Event::Exit { pid: 42 }]).tokens.is_empty());
        w.watches.add_pid(4, 43);
        assert_eq!(w.watches.drop_pid(3), None, "token 4 still watches 43");
        assert_eq!(
            w.watches.forget(4),
            Some(43),
            "the last one deletes the kevent"
        );
        assert_eq!(w.watches.forget(4), None);
        assert!(!w.watches.pid_watched(43));
    }

    /// Forgetting a token closes a directory only when no other name in it is watched.
    #[test]
    fn forgetting_closes_a_directory_with_its_last_name() {
        let mut w = World::new();
        let dir = w.watches.add_dir((1, 2), w.fd(10));
        w.watch_entry(1, dir, "a.lock");
        w.watch_entry(2, dir, "a.lock");
        w.watch_entry(3, dir, "b.lock");
        w.watches.add_pid(1, 42);
        assert_eq!(w.watches.forget(1), Some(42));
        assert_eq!(w.watches.forget(2), None);
        assert!(w.closed.borrow().is_empty());
        w.set(10, "a.lock", file(1));
        assert!(
            w.decode(&[changed(10)]).tokens.is_empty(),
            "nobody waits for a.lock"
        );
        assert_eq!(w.watches.forget(3), None);
        assert_eq!(*w.closed.borrow(), vec![10]);
    }
}
