//! This process's holds: the held table behind its one mutex, and the recording of a lock
//! file an attempt has just created.

use crate::error::Error;
use crate::fs::{self, FileId};
use crate::option_name::OptionName;
use crate::options::Options;
use crate::payload::clip_owner;
use crate::table::{Held, Hold, NewHold, Table};
use std::fs::File;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

pub struct Holds {
    table: Mutex<Table>,
}

/// A lock file an attempt created and holds (its descriptor keeps the flock), not yet in the
/// table.
pub struct NewLockFile {
    pub file: File,
    pub id: FileId,
    /// The nonce written into it.
    pub nonce: String,
}

pub fn owner_ended() -> Error {
    Error::invalid(
        OptionName::HoldOwner,
        "the owner of this request has ended (its Node environment is gone)",
    )
}

impl Holds {
    pub fn new() -> Holds {
        Holds {
            table: Mutex::new(Table::new()),
        }
    }

    pub fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enters a lock file just created into the table, under the nonce it was written with.
    /// Returns the hold and, when its max-hold deadline is earlier than any the lock service
    /// has a timer for, that deadline: the caller tells the service. If the owner ended
    /// meanwhile, the file is removed again: nobody is left to release it.
    pub fn record(
        &self,
        lock_path: &Path,
        new: NewLockFile,
        options: &Options,
    ) -> Result<(Hold, Option<Instant>), Error> {
        let mut table = self.table();
        if table.ended.contains(&options.hold_owner) {
            // Still flocked by us, so nobody else can have replaced it; a failure leaves a file
            // whose flock is dropped with `new.file` just below, which anyone may reclaim.
            let _ = fs::unlink_if_same(lock_path, new.id);
            return Err(owner_ended());
        }
        let hold = NewHold {
            nonce: new.nonce,
            max_hold: options.max_hold,
            reentrant_owner: options.reentrant_owner.clone(),
            owner: options.label().map(clip_owner),
            hold_owner: options.hold_owner,
        };
        let generation = table.insert(lock_path.to_path_buf(), new.file, new.id, hold);
        let deadline = table.entries.get(lock_path).and_then(Held::deadline);
        let arm = deadline.filter(|&d| table.arm_watchdog(d));
        let hold = Hold {
            lock_path: lock_path.to_path_buf(),
            generation,
        };
        Ok((hold, arm))
    }
}
