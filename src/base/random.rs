//! Random numbers for nonces and temp file names, straight from the operating system every time.
//!
//! Not a user-space generator: its state would be copied by `fork()`, so a forked child's first
//! nonce would equal its parent's next one (docs/PROTOCOL.md, "Fork"). These numbers are drawn
//! a few times per process, so the system call costs nothing that matters. Should the system
//! refuse (no entropy source, a sandbox), the clock, pid and a counter stand in: a nonce needs
//! to be unique, not secret.

use rand::rngs::SysRng;
use rand::TryRng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// 128 random bits.
pub fn random_u128() -> u128 {
    let mut bytes = [0u8; 16];
    match SysRng.try_fill_bytes(&mut bytes) {
        Ok(()) => u128::from_ne_bytes(bytes),
        Err(_) => fallback(),
    }
}

/// 64 random bits.
pub fn random_u64() -> u64 {
    random_u128() as u64
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Distinct for every call in every process alive at the same time: pid, wall clock in
/// nanoseconds and a per-process counter, mixed so that neighbours do not look alike.
fn fallback() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = mix(u64::from(std::process::id()) << 32 ^ count);
    let low = mix(nanos ^ high);
    (u128::from(high) << 64) | u128::from(low)
}

/// SplitMix64's finaliser: a bijection, so distinct inputs stay distinct.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_differ_with_and_without_the_system() {
        assert_ne!(random_u128(), random_u128());
        assert_ne!(fallback(), fallback());
    }
}
