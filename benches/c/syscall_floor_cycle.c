/* The syscall floor: exactly the system calls session-write-lock makes for an uncontended cycle
 * (DESIGN.md §2.2 and §4), with nothing around them, so no implementation of that protocol can
 * be faster. Acquire: open a hidden temp file O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, write the
 * ~200-byte payload, flock(LOCK_EX|LOCK_NB), fstat (the (dev, ino) release checks against),
 * link(temp, lock), unlink(temp). Release: stat(lock), unlink(lock) if it is still ours, close. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char payload[512];
static int payload_len;
static char temp_path[PATH_MAX];
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
                           "\"pidNs\":4026531836,\"flock\":true}",
                           (long)getpid());
    /* One temp name is enough: it is unlinked within every acquire. */
    const char *slash = strrchr(lock_path, '/');
    int n = snprintf(temp_path, sizeof temp_path, "%.*s/.%s.%ld.tmp", (int)(slash - lock_path),
                     lock_path, slash + 1, (long)getpid());
    if (n >= (int)sizeof temp_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int acquire(const char *lock_path)
{
    int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, payload, (size_t)payload_len) == payload_len &&
             flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 &&
             link(temp_path, lock_path) == 0;
    int saved = errno;
    unlink(temp_path);
    if (!ok) {
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
    if (stat(lock_path, &now) == 0 && now.st_dev == held.st_dev && now.st_ino == held.st_ino &&
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
