/* The syscall floor: exactly the system calls session-write-lock makes for an uncontended cycle
 * on Linux (strace of benches/rust_cycle.rs), with nothing around them, so no implementation of
 * that protocol can be faster. Acquire: realpath of the directory (docs/PROTOCOL.md, "Files";
 * glibc: one readlink per component), open(dir, O_TMPFILE|O_RDWR|O_CLOEXEC), flock(LOCK_EX),
 * write the ~200-byte payload, linkat(fd, "", lock, AT_EMPTY_PATH), fstat (the (dev, ino)
 * release checks against). Release ("Holding and releasing"): lstat(lock), unlink(lock) if it
 * is still ours, close. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char payload[512];
static int payload_len;
static char dir[PATH_MAX];
static int held_fd = -1;
static struct stat held;

/* Payload of the size and shape the library writes (fixed values: building it is not the cost
 * being measured). */
static int init(const char *lock_path)
{
    payload_len = snprintf(payload, sizeof payload,
                           "{\"pid\":%ld,\"createdAt\":\"2025-01-01T00:00:00.000Z\","
                           "\"nonce\":\"0123456789abcdef0123456789abcdef\",\"starttime\":123456789,"
                           "\"hostname\":\"bench-host\","
                           "\"bootId\":\"01234567-89ab-cdef-0123-456789abcdef\","
                           "\"pidNs\":4026531836,\"flock\":true}\n",
                           (long)getpid());
    const char *slash = strrchr(lock_path, '/');
    if (snprintf(dir, sizeof dir, "%.*s", (int)(slash - lock_path), lock_path) >= (int)sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int acquire(const char *lock_path)
{
    char real_dir[PATH_MAX];
    if (!realpath(dir, real_dir))
        return -1;
    int fd = open(real_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = flock(fd, LOCK_EX) == 0 && write(fd, payload, (size_t)payload_len) == payload_len &&
             linkat(fd, "", AT_FDCWD, lock_path, AT_EMPTY_PATH) == 0 &&
             fstat(fd, &held) == 0;
    if (!ok) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    held_fd = fd;
    return 0;
}

static int release(const char *lock_path)
{
    struct stat now;
    if (lstat(lock_path, &now) == 0 && now.st_dev == held.st_dev && now.st_ino == held.st_ino &&
        unlink(lock_path) != 0)
        return -1;
    int rc = close(held_fd);
    held_fd = -1;
    return rc;
}

int main(int argc, char **argv)
{
    static const struct bench_impl impl = {
        .name = "syscall-floor", .init = init, .acquire = acquire, .release = release};
    return bench_main(argc, argv, &impl);
}
