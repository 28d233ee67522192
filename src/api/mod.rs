//! What the crate's root re-exports: acquire and release, the guard, inspection and cleaning, and
//! the process's runtime they share. Imports every layer below it, `service` included.

pub(crate) mod acquire;
pub(crate) mod guard;
pub(crate) mod inspect;
pub(crate) mod runtime;
pub mod testing;
