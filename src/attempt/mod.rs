//! One try at a lock: observe what is at the lock path, name who holds it, and take or reclaim it.
//! Imports the layers below it, up to `held`.

pub(crate) mod holder;
pub(crate) mod observe;
pub(crate) mod take;
