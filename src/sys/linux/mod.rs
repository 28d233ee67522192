//! Linux: `/proc` for identity always; with the `portable` feature the rest comes from
//! `sys/portable.rs`, so the code other platforms run is tested here too.

mod proc;
pub use proc::{boot_id, cmdline, own_start_time, pid_namespace, start_time_and_zombie};

#[cfg(not(swl_portable))]
mod create;
#[cfg(not(swl_portable))]
mod epoll;
#[cfg(not(swl_portable))]
mod inotify;
#[cfg(not(swl_portable))]
mod inspect;
#[cfg(not(swl_portable))]
mod pidfd;
#[cfg(not(swl_portable))]
pub use {
    create::{link_anonymous, open_anonymous},
    epoll::{Poller, Waker},
    inspect::open_without_effects,
};

#[cfg(swl_portable)]
pub use super::{
    poll::{Poller, Waker},
    portable::{link_anonymous, open_anonymous, open_without_effects},
};
