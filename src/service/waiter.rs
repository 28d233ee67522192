//! A caller's wait, as handed to the lock service.

use crate::attempt::observe::FileObservation;
use crate::base::cancel::CancelToken;
use crate::held::table::Hold;
use crate::vocab::error::{Error, Holder};
use crate::vocab::options::Options;
use std::path::PathBuf;
use std::time::Instant;

/// Receives the outcome on the service thread.
pub type Callback = Box<dyn FnOnce(Result<Hold, Error>) + Send>;

pub struct Waiter {
    pub lock_path: PathBuf,
    pub options: Options,
    pub deadline: Option<Instant>,
    pub callback: Callback,
    pub holder: Box<Holder>,
    /// The lock file the caller's try judged busy, still open: the service judges it again
    /// instead of trying anew (taken by the queue when this waiter is its first).
    pub seen: Option<Box<FileObservation>>,
    /// Set by the caller to give up the wait (Node's `AbortSignal`).
    pub cancel: Option<CancelToken>,
}
