//! What macOS and FreeBSD share: `sysctl(3)` reads.

/// The bytes of the sysctl named `mib` (asked for its size first).
pub fn sysctl_bytes(mib: &[libc::c_int]) -> Option<Vec<u8>> {
    let mut len = 0usize;
    let mib_ptr = mib.as_ptr().cast_mut();
    let count = mib.len() as libc::c_uint;
    let null = std::ptr::null_mut();
    // SAFETY: a size query: no buffer is written.
    if unsafe { libc::sysctl(mib_ptr, count, null, &mut len, null, 0) } != 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    // SAFETY: the buffer is valid for `len` bytes; the kernel writes at most `len`.
    if unsafe { libc::sysctl(mib_ptr, count, buf.as_mut_ptr().cast(), &mut len, null, 0) } != 0 {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

/// NUL-separated arguments as strings, empty ones left out.
pub fn split_args(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}
