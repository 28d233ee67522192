//! The locks this process holds: the table (one entry per lock path) and the holds' files.
//! Imports the layers below it: `base`, `sys`, `rules`, `vocab`, `files`.

pub(crate) mod holds;
pub(crate) mod table;
