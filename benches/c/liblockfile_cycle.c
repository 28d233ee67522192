/* liblockfile baseline: lockfile_create + lockfile_remove cycles (link-based, NFS-safe dot-lock;
 * the lock file holds our pid in ASCII). Build: cc ... liblockfile_cycle.c bench.c -llockfile */
#define _GNU_SOURCE
#include "bench.h"

#include <lockfile.h>

static int acquire(const char *lock_path)
{
    /* No retries: the lock is uncontended, and a retry would sleep for seconds. */
    return lockfile_create(lock_path, 0, L_PID);
}

static int release(const char *lock_path)
{
    return lockfile_remove(lock_path);
}

int main(int argc, char **argv)
{
    static const struct bench_impl impl = {.name = "liblockfile", .acquire = acquire, .release = release};
    return bench_main(argc, argv, &impl);
}
