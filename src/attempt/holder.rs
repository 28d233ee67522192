//! Who holds a lock, as busy errors and inspections say it to people.

use crate::attempt::observe::FileObservation;
use crate::base::printable::printable;
use crate::held::table::TableView;
use crate::rules::identity::ProcessIdentity;
use crate::rules::iso_time;
use crate::rules::payload::Payload;
use crate::sys::Occupant;
use crate::vocab::error::Holder;
use std::time::SystemTime;

/// A live lock file of this very process instance (flock held, our pid, pid namespace, nonce).
pub fn is_ours(seen: &FileObservation, me: &ProcessIdentity, nonce: &str) -> bool {
    let p = &seen.payload;
    p.flock
        && !seen.flock_free
        && p.pid == Some(me.pid)
        && p.pid_ns == me.pid_ns
        && p.nonce.as_deref() == Some(nonce)
}

/// Who holds an observed lock file, with our own hold when it is this process's.
/// What a busy error and an inspection say of a lock path that something other than a regular
/// file occupies (such a thing is never removed: nothing proves whose it is).
pub fn describe_occupant(occupant: Occupant) -> String {
    format!(
        "{} is in the way (never removed automatically)",
        occupant.describe()
    )
}

pub fn describe_holder(seen: &FileObservation, me: &ProcessIdentity, ours: &TableView) -> Holder {
    let alive = seen.holder_alive();
    let here = ours
        .held
        .as_ref()
        .filter(|_| is_ours(seen, me, &ours.nonce))
        .cloned();
    Holder {
        description: describe_seen(seen, me, SystemTime::now()),
        pid: seen.payload.pid,
        pid_alive: alive,
        here,
    }
}

/// [`describe_owner`] of an observed file, saying when its flock is held by someone other
/// than the process it names.
pub fn describe_seen(seen: &FileObservation, me: &ProcessIdentity, now: SystemTime) -> String {
    let mut owner = describe_owner(&seen.payload, me, seen.holder_alive(), now);
    if seen.squatted() {
        owner.push_str(" (file locked by another process)");
    }
    owner
}

/// `pid=N alive=B ageMs=A` (the gateway's format; `owner=unknown` without a pid), with the
/// host when it is another one and a note when it is another container. The host name comes
/// from the file: it is [`printable`], since the owner is shown to people.
pub fn describe_owner(p: &Payload, me: &ProcessIdentity, alive: bool, now: SystemTime) -> String {
    let mut owner = match p.pid {
        Some(pid) => format!("pid={pid} alive={alive}"),
        None => "owner=unknown".to_string(),
    };
    if let Some(created) = p.created_at_ms {
        let age = iso_time::unix_ms(now).saturating_sub(created).max(0);
        owner.push_str(&format!(" ageMs={age}"));
    }
    match &p.hostname {
        Some(host) if *host != me.hostname => {
            owner.push_str(&format!(" host={}", printable(host.as_bytes())))
        }
        _ if p.flock && p.pid_ns.is_some() && p.pid_ns != me.pid_ns => {
            owner.push_str(" (another pid namespace)")
        }
        _ => {}
    }
    owner
}
