//! Giving up a wait from another thread (Node's `AbortSignal`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Gives up a wait from another thread (Node's `AbortSignal`): the waiter's callback gets
/// [`crate::Error::Cancelled`], and no lock is taken for it after the cancel.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<CancelState>);

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    /// Set once the wait is handed to the lock service: wakes it to look at the waiter. A
    /// hook rather than the service itself, so that this module needs nothing above it.
    on_cancel: Mutex<Option<Hook>>,
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels the wait (idempotent).
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        // Taken out before it runs: the hook may take other locks.
        let hook = self.hook().take();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// What a cancel does besides setting the flag (the flag is read when the waiter is
    /// looked at; the hook makes that happen soon).
    pub(crate) fn on_cancel(&self, hook: impl FnOnce() + Send + 'static) {
        *self.hook() = Some(Box::new(hook));
    }

    fn hook(&self) -> std::sync::MutexGuard<'_, Option<Hook>> {
        self.0
            .on_cancel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
