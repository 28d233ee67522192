//! The words callers use: errors, options and settings from the environment, option names, the
//! holder's label, the held-lock record. Imports `base`, `sys` and `rules`.

pub(crate) mod error;
pub(crate) mod held_lock;
pub(crate) mod option_name;
pub(crate) mod options;
pub(crate) mod owner;
pub(crate) mod path_rule;
pub(crate) mod select;
pub mod settings;
