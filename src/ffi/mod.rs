//! C ABI (see include/session_write_lock.h).
