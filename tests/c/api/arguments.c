/* What the API does with what it is given: NULL parameters, invalid arguments, I/O errors,
 * short buffers, extreme values and paths that name directories. */
#include "api.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

void test_null_parameters(void) {
    char file[PATH_MAX];
    join(file, "null.jsonl");
    swl_options o = options(0, true);
    swl_lock *l = (swl_lock *)&o; /* any non-NULL value: must be reset to NULL */
    CHECK(swl_acquire(NULL, &o, &l) == SWL_NULL_PARAMETER);
    CHECK(l == NULL);
    CHECK_MSG(strstr(last_error(), "session_file"), "%s", errbuf);
    CHECK(swl_acquire(file, NULL, &l) == SWL_NULL_PARAMETER);
    CHECK_MSG(strstr(last_error(), "opts"), "%s", errbuf);
    CHECK(swl_acquire(file, &o, NULL) == SWL_NULL_PARAMETER);
    CHECK_MSG(strstr(last_error(), "out"), "%s", errbuf);
    CHECK(!exists(file));
    CHECK(swl_release(NULL) == SWL_NULL_PARAMETER);
    CHECK_MSG(strstr(last_error(), "lock"), "%s", errbuf);

    char *json = (char *)"sentinel";
    CHECK(swl_inspect(NULL, &json) == SWL_NULL_PARAMETER);
    CHECK(json == NULL);
    CHECK(swl_inspect(file, NULL) == SWL_NULL_PARAMETER);
    CHECK_MSG(strstr(last_error(), "json_out"), "%s", errbuf);
    json = (char *)"sentinel";
    CHECK(swl_clean_stale(NULL, 1000, false, &json) == SWL_NULL_PARAMETER);
    CHECK(json == NULL);
    CHECK_MSG(strstr(last_error(), "sessions_dir"), "%s", errbuf);
    CHECK(swl_clean_stale(root, 1000, false, NULL) == SWL_NULL_PARAMETER);

    swl_string_free(NULL);
    swl_options_init(NULL);
    CHECK(swl_instance_nonce(NULL, 0) == 32);
    CHECK(swl_instance_nonce(NULL, 100) == 32);
    size_t n = swl_last_error(NULL, 0);
    CHECK(n > 0 && n == strlen(last_error()));
    CHECK(swl_last_error(NULL, 100) == n);
    swl_set_log_callback(NULL, NULL);
}

void test_invalid_arguments(void) {
    char file[PATH_MAX];
    swl_options o = options(0, true);
    swl_lock *l = NULL;

    join(file, "\xff\xfe.jsonl");
    CHECK(swl_acquire(file, &o, &l) == SWL_INVALID_ARGUMENT);
    CHECK(l == NULL);
    CHECK_MSG(strstr(last_error(), "session_file") && strstr(errbuf, "UTF-8"), "%s", errbuf);
    CHECK(!exists(file));
    char *json = NULL;
    CHECK(swl_inspect(file, &json) == SWL_INVALID_ARGUMENT && json == NULL);
    CHECK(swl_clean_stale("/tmp/\xff", 1000, false, &json) == SWL_INVALID_ARGUMENT);
    CHECK(json == NULL);

    CHECK(swl_acquire("", &o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "session_file"), "%s", errbuf);
    CHECK(swl_clean_stale("", 1000, false, &json) == SWL_INVALID_ARGUMENT);

    join(file, "options.jsonl");
    const struct {
        int64_t timeout_ms, stale_ms, max_hold_ms;
        const char *field;
    } bad[] = {{-2, 1000, 1000, "timeout_ms"},
               {INT64_MIN, 1000, 1000, "timeout_ms"},
               {0, 0, 1000, "stale_ms"},
               {0, -1, 1000, "stale_ms"},
               {0, 1000, 0, "max_hold_ms"},
               {0, 1000, -5, "max_hold_ms"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.timeout_ms = bad[i].timeout_ms;
        o.stale_ms = bad[i].stale_ms;
        o.max_hold_ms = bad[i].max_hold_ms;
        CHECK(swl_acquire(file, &o, &l) == SWL_INVALID_ARGUMENT);
        CHECK_MSG(strstr(last_error(), bad[i].field), "case %zu: %s", i, errbuf);
    }
    CHECK(!exists(file));
    CHECK(swl_clean_stale(root, 0, false, &json) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "stale_ms"), "%s", errbuf);

    /* -1 = forever / no watchdog are valid */
    o = options(-1, true);
    o.max_hold_ms = -1;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(swl_release(l) == SWL_OK);
}

void test_io_error(void) {
    char plain[PATH_MAX], file[PATH_MAX];
    join(plain, "plain-file");
    write_file(plain, "not a directory");
    join(file, "plain-file/x.jsonl");
    swl_options o = options(0, true);
    swl_lock *l = NULL;
    CHECK(swl_acquire(file, &o, &l) == SWL_IO);
    CHECK(l == NULL);
    CHECK_MSG(strncmp(last_error(), "ENOTDIR: ", 9) == 0 && strstr(errbuf, plain), "%s", errbuf);
}

void test_buffers(void) {
    char full[64];
    CHECK(swl_instance_nonce(full, sizeof full) == 32);
    CHECK_MSG(is_lower_hex(full, 32), "%s", full);

    char buf[16];
    memset(buf, 'Z', sizeof buf);
    CHECK(swl_instance_nonce(buf, 8) == 32);
    CHECK(memcmp(buf, full, 7) == 0 && buf[7] == '\0');
    for (size_t i = 8; i < sizeof buf; i++) {
        CHECK_MSG(buf[i] == 'Z', "byte %zu overwritten", i);
    }
    memset(buf, 'Z', sizeof buf);
    CHECK(swl_instance_nonce(buf, 1) == 32);
    CHECK(buf[0] == '\0' && buf[1] == 'Z');
    memset(buf, 'Z', sizeof buf);
    CHECK(swl_instance_nonce(buf, 0) == 32);
    CHECK(buf[0] == 'Z');

    char exact[33];
    memset(exact, 'Z', sizeof exact);
    CHECK(swl_instance_nonce(exact, 32) == 32); /* one short: 31 digits + NUL */
    CHECK(exact[31] == '\0' && strncmp(exact, full, 31) == 0);
    CHECK(swl_instance_nonce(exact, 33) == 32);
    CHECK(strcmp(exact, full) == 0);

    /* the last error, likewise */
    CHECK(swl_release(NULL) == SWL_NULL_PARAMETER);
    size_t needed = swl_last_error(NULL, 0);
    CHECK(needed > 12);
    char *whole = malloc(needed + 1);
    CHECK(whole != NULL);
    CHECK(swl_last_error(whole, needed + 1) == needed);
    CHECK(strlen(whole) == needed);
    char small[24];
    memset(small, 'Z', sizeof small);
    CHECK(swl_last_error(small, 10) == needed);
    CHECK(small[9] == '\0' && strncmp(small, whole, 9) == 0);
    for (size_t i = 10; i < sizeof small; i++) {
        CHECK_MSG(small[i] == 'Z', "byte %zu overwritten", i);
    }
    free(whole);

    /* a success does not clear the last error */
    CHECK(swl_reset_instance_nonce() == SWL_OK);
    CHECK(swl_last_error(NULL, 0) == needed);
}

/* Extreme but valid numbers: INT64_MAX as a timeout and as a max-hold must neither overflow
 * nor wake the watchdog; the waiter still wakes when the holder (another thread) lets go. */
static swl_lock *extreme_hold;
static atomic_int waiter_tid;
static atomic_int extreme_released;
static atomic_int waiter_seen_blocked;

/* Reads /proc/self/task/TID/NAME into `line`; 0 when it cannot. */
static int read_task_file(int tid, const char *name, char *line, size_t len) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    int got = fgets(line, (int)len, f) != NULL;
    fclose(f);
    return got;
}

/* Whether thread `tid` of this process is blocked in futex(2): where a waiting swl_acquire
 * sleeps (under valgrind a thread waiting for its turn to run sits in read(2) instead). Its
 * system call's number, or, under qemu-user, where that number is the host's, the kernel
 * function it sleeps in (futex_wait_queue, futex_do_wait, … by kernel version). */
static int blocked_in_futex(int tid) {
    char line[256];
    long nr = -1;
    if (read_task_file(tid, "syscall", line, sizeof line) && sscanf(line, "%ld", &nr) == 1 &&
        nr == SYS_futex) {
        return 1;
    }
    return read_task_file(tid, "wchan", line, sizeof line) && strstr(line, "futex") != NULL;
}

static void *release_later(void *arg) {
    (void)arg;
    /* Handshake: release only once the main thread is blocked waiting in swl_acquire. If it
     * is never seen there, release all the same (the main thread then fails the test instead
     * of waiting for ever). */
    while (atomic_load(&waiter_tid) == 0) {
        sched_yield();
    }
    for (double t = now_ms(); now_ms() - t < 10000;) {
        if (blocked_in_futex(atomic_load(&waiter_tid))) {
            atomic_store(&waiter_seen_blocked, 1);
            break;
        }
        sleep_ms(1);
    }
    atomic_store(&extreme_released, 1);
    swl_status s = swl_release(extreme_hold);
    return (void *)(intptr_t)s;
}

void test_extreme_values(void) {
    char file[PATH_MAX], lock[PATH_MAX];
    join(file, "extreme.jsonl");
    lock_path_of(lock, file);
    swl_options o = options(INT64_MAX, false);
    o.max_hold_ms = INT64_MAX;
    o.stale_ms = INT64_MAX;
    CHECK_MSG(swl_acquire(file, &o, &extreme_hold) == SWL_OK, "%s", last_error());
    pthread_t t;
    CHECK(pthread_create(&t, NULL, release_later, NULL) == 0);
    swl_lock *l = NULL;
    atomic_store(&waiter_tid, (int)syscall(SYS_gettid));
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK_MSG(atomic_load(&extreme_released), "acquired before the holder released");
    void *released;
    CHECK(pthread_join(t, &released) == 0);
    CHECK_MSG(atomic_load(&waiter_seen_blocked),
              "the waiting thread was never seen blocked in futex(2) within 10 s");
    CHECK_MSG((intptr_t)released == SWL_OK, "release thread: %ld", (long)(intptr_t)released);
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

/* A path that names a directory (ends in `/`, `.` or `..`) is refused before any I/O: before,
 * "<dir>/." locked "<parent>/<dir>.lock". */
void test_directory_paths(void) {
    char dir[PATH_MAX], path[PATH_MAX + 8], wrong_lock[PATH_MAX];
    join(dir, "adir");
    CHECK(mkdir(dir, 0755) == 0);
    join(wrong_lock, "adir.lock");
    const char *suffixes[] = {"/", "/.", "/..", "//", "/./", "/sub/..", "/./."};
    swl_options o = options(0, true);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dir, suffixes[i]);
        swl_lock *l = NULL;
        CHECK_MSG(swl_acquire(path, &o, &l) == SWL_INVALID_ARGUMENT, "%s: %s", path, last_error());
        CHECK(l == NULL);
        CHECK_MSG(strstr(last_error(), "session_file") && strstr(errbuf, "directory"), "%s", errbuf);
        char *json = NULL;
        CHECK_MSG(swl_inspect(path, &json) == SWL_INVALID_ARGUMENT && json == NULL, "%s", path);
    }
    CHECK(!exists(wrong_lock));
    CHECK(swl_acquire(".", &o, &(swl_lock *){NULL}) == SWL_INVALID_ARGUMENT);
    CHECK(swl_acquire("..", &o, &(swl_lock *){NULL}) == SWL_INVALID_ARGUMENT);
    CHECK(rmdir(dir) == 0);
}
