//! Linux: `/proc` for identity always; with the `portable` feature the rest comes from
//! `sys/unix.rs`, so the code other platforms run is tested here too.

mod proc;
pub use proc::{boot_id, cmdline, own_start_time, pid_namespace, start_time_and_zombie};

#[cfg(not(feature = "portable"))]
mod create;
#[cfg(not(feature = "portable"))]
mod epoll;
#[cfg(not(feature = "portable"))]
mod inotify;
#[cfg(not(feature = "portable"))]
mod inspect;
#[cfg(not(feature = "portable"))]
mod pidfd;
#[cfg(not(feature = "portable"))]
pub use {
    create::{link_anonymous, open_anonymous},
    epoll::{Poller, Waker},
    inspect::open_without_effects,
};

#[cfg(feature = "portable")]
pub use super::{
    poll::{Poller, Waker},
    unix::{link_anonymous, open_anonymous, open_without_effects},
};
