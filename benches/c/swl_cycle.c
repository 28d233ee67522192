/* session-write-lock from C: swl_acquire + swl_release cycles through libsession_write_lock
 * (the release build). swl_acquire takes the session file, `<dir>/s.jsonl`, whose lock is the
 * driver's `<dir>/s.jsonl.lock`. Build (scripts/bench.sh does):
 *   cc ... swl_cycle.c bench.c -Iinclude -Ltarget/release -lsession_write_lock -Wl,-rpath,... */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <session_write_lock.h>

static char session_file[PATH_MAX];
static swl_options options;
static swl_lock *held;

static int fail(swl_status status)
{
    char message[512];
    swl_last_error(message, sizeof message);
    fprintf(stderr, "swl: %s: %s\n", swl_status_str(status), message);
    errno = 0;
    return (int)status;
}

static int init(const char *lock_path)
{
    size_t length = strlen(lock_path) - strlen(".lock");
    memcpy(session_file, lock_path, length);
    session_file[length] = '\0';
    swl_options_init(&options); /* the library's defaults, as a C caller would start */
    return 0;
}

static int acquire(const char *lock_path)
{
    (void)lock_path;
    swl_status status = swl_acquire(session_file, &options, &held);
    return status == SWL_OK ? 0 : fail(status);
}

static int release(const char *lock_path)
{
    (void)lock_path;
    swl_status status = swl_release(held);
    held = NULL;
    return status == SWL_OK ? 0 : fail(status);
}

int main(int argc, char **argv)
{
    static const struct bench_impl impl = {
        .name = "swl-c", .init = init, .acquire = acquire, .release = release};
    return bench_main(argc, argv, &impl);
}
