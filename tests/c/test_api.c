/* The C API of session-write-lock, end to end: run as `test_api HOLDER_BINARY`, where
 * HOLDER_BINARY is tests/c/holder.c built against the same library (shared or static).
 * Prints "N passed, 0 failed" and exits 0, or stops at the first failed CHECK. */
#include "session_write_lock.h"

#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *holder_binary;
static char root[PATH_MAX];
static char errbuf[4096];

/* ---- helpers ---------------------------------------------------------------------------- */

/* The last error of this thread, in a static buffer (main thread only). */
static const char *last_error(void) {
    swl_last_error(errbuf, sizeof errbuf);
    return errbuf;
}

static void join(char *out, const char *name) {
    int n = snprintf(out, PATH_MAX, "%s/%s", root, name);
    CHECK_MSG(n > 0 && n < PATH_MAX, "path too long: %s", name);
}

static void lock_path_of(char *out, const char *session_file) {
    int n = snprintf(out, PATH_MAX, "%s.lock", session_file);
    CHECK(n > 0 && n < PATH_MAX);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static swl_options options(int64_t timeout_ms, bool reentrant) {
    swl_options o;
    swl_options_init(&o);
    o.timeout_ms = timeout_ms;
    o.allow_reentrant = reentrant;
    return o;
}

static void write_file(const char *path, const char *content) {
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "fopen %s: %s", path, strerror(errno));
    CHECK(fputs(content, f) >= 0);
    CHECK(fclose(f) == 0);
}

static void read_file(const char *path, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "fopen %s: %s", path, strerror(errno));
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void set_mtime_ago(const char *path, long seconds) {
    struct timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= seconds;
    times[1] = times[0];
    CHECK_MSG(utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0, "utimensat %s: %s",
              path, strerror(errno));
}

static void iso_now(char *out, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* A pid no process can have: one above the kernel's pid_max (a reaped child's pid could be
 * reused by the time it is judged). */
static pid_t dead_pid(void) {
    long pid_max = 4194304; /* PID_MAX_LIMIT, the most pid_max can be */
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (f != NULL) {
        CHECK(fscanf(f, "%ld", &pid_max) == 1);
        fclose(f);
    }
    CHECK(pid_max > 0 && pid_max < INT_MAX);
    return (pid_t)(pid_max + 1);
}

struct holder {
    pid_t pid;
    int stdin_fd;
};

/* Starts the holder program on `session_file` and waits until it says "held". */
static struct holder start_holder(const char *session_file) {
    int to_child[2], from_child[2];
    CHECK(pipe(to_child) == 0);
    CHECK(pipe(from_child) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        execl(holder_binary, holder_binary, session_file, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    char line[16] = {0};
    size_t got = 0;
    while (got < 5) {
        ssize_t n = read(from_child[0], line + got, 5 - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        CHECK_MSG(n > 0, "holder %s exited before saying \"held\"", holder_binary);
        got += (size_t)n;
    }
    close(from_child[0]);
    CHECK_MSG(strcmp(line, "held\n") == 0, "holder said %s", line);
    struct holder h = {pid, to_child[1]};
    return h;
}

/* Closes the holder's stdin: it releases and exits 0. */
static void stop_holder(struct holder h) {
    close(h.stdin_fd);
    int status;
    CHECK(waitpid(h.pid, &status, 0) == h.pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "holder status %d", status);
}

static int is_lower_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[n] == '\0';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_version_and_status_strings(void) {
    const char *v = swl_version();
    char header_version[64];
    snprintf(header_version, sizeof header_version, "%d.%d.%d", SWL_VERSION_MAJOR,
             SWL_VERSION_MINOR, SWL_VERSION_PATCH);
    CHECK_MSG(v != NULL && strcmp(v, header_version) == 0, "library %s, header %s", v,
              header_version);
    const struct {
        swl_status status;
        const char *name;
    } all[] = {{SWL_OK, "SWL_OK"},
               {SWL_BUSY, "SWL_BUSY"},
               {SWL_INVALID_ARGUMENT, "SWL_INVALID_ARGUMENT"},
               {SWL_NULL_PARAMETER, "SWL_NULL_PARAMETER"},
               {SWL_IO, "SWL_IO"},
               {SWL_NOT_HELD, "SWL_NOT_HELD"},
               {SWL_PANIC, "SWL_PANIC"},
               {SWL_STALE, "SWL_STALE"}};
    CHECK(SWL_OK == 0);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = swl_status_str(all[i].status);
        CHECK_MSG(s != NULL && strncmp(s, all[i].name, strlen(all[i].name)) == 0, "%s -> %s",
                  all[i].name, s ? s : "(null)");
        CHECK((int)all[i].status == (int)i);
    }
    CHECK(strcmp(swl_status_str((swl_status)99), "unknown swl_status") == 0);
    CHECK(strcmp(swl_status_str((swl_status)-1), "unknown swl_status") == 0);
}

static void test_options_defaults(void) {
    swl_options o;
    memset(&o, 0x5a, sizeof o);
    swl_options_init(&o);
    CHECK(o.timeout_ms == 60000);
    CHECK(o.stale_ms == 1800000);
    CHECK(o.max_hold_ms == 300000);
    CHECK(o.allow_reentrant == false);
    CHECK(o.size == sizeof(swl_options));
    CHECK(o.owner == NULL);
    CHECK(o.foreign == SWL_FOREIGN_GATEWAY);

    /* the environment overrides the defaults (digits only; Infinity for the timeout only) */
    CHECK(setenv("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "2500", 1) == 0);
    CHECK(setenv("OPENCLAW_SESSION_WRITE_LOCK_STALE_MS", "0x1000", 1) == 0);
    CHECK(setenv("SESSION_WRITE_LOCK_MAX_HOLD_MS", "Infinity", 1) == 0);
    swl_options_init(&o);
    CHECK(o.timeout_ms == 2500);
    CHECK(o.stale_ms == 1800000);
    CHECK(o.max_hold_ms == 300000);
    CHECK(setenv("OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "Infinity", 1) == 0);
    swl_options_init(&o);
    CHECK(o.timeout_ms == -1);
    CHECK(unsetenv("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS") == 0);
    CHECK(unsetenv("OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS") == 0);
    CHECK(unsetenv("OPENCLAW_SESSION_WRITE_LOCK_STALE_MS") == 0);
    CHECK(unsetenv("SESSION_WRITE_LOCK_MAX_HOLD_MS") == 0);
}

/* A program built against an older, shorter swl_options: only its fields are written and read;
 * the ones it does not know take their defaults, whatever its memory holds beyond them. */
static void test_options_old_size(void) {
    char file[PATH_MAX];
    join(file, "old-size.jsonl");
    const size_t old = offsetof(swl_options, max_hold_ms);
    union {
        swl_options o;
        unsigned char bytes[sizeof(swl_options) + 16];
    } u;
    memset(u.bytes, 0, sizeof u.bytes); /* max_hold_ms = 0 would be invalid if it were read */
    swl_options_init_sized(&u.o, old);
    for (size_t i = old; i < sizeof u.bytes; i++) CHECK_MSG(u.bytes[i] == 0, "byte %zu written", i);
    CHECK(u.o.size == old);
    CHECK(u.o.timeout_ms == 60000 && u.o.stale_ms == 1800000);
    u.o.timeout_ms = 0;
    swl_lock *l = NULL;
    CHECK_MSG(swl_acquire(file, &u.o, &l) == SWL_OK, "%s", last_error());
    CHECK(swl_release(l) == SWL_OK);

    /* the same bytes at full size: max_hold_ms = 0 is read and refused */
    u.o.size = sizeof(swl_options);
    u.o.max_hold_ms = 0;
    CHECK(swl_acquire(file, &u.o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "max_hold_ms"), "%s", errbuf);
    /* options that never went through swl_options_init */
    u.o.size = 0;
    CHECK(swl_acquire(file, &u.o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "size"), "%s", errbuf);
    CHECK(l == NULL);
}

/* The owner label, held_locks, assert_owned and the diagnostics of a busy error. */
static void test_owner_held_locks_and_assert_owned(void) {
    char file[PATH_MAX], lock[PATH_MAX], content[4096];
    join(file, "owned.jsonl");
    lock_path_of(lock, file);
    swl_options o = options(50, false);
    o.owner = "turn-7";
    swl_lock *l = NULL;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    read_file(lock, content, sizeof content);
    CHECK_MSG(strstr(content, "\"owner\":\"turn-7\"") && strstr(content, "\"maxHoldMs\":300000"), "%s", content);

    char *json = NULL;
    CHECK(swl_held_locks(&json) == SWL_OK && json != NULL);
    CHECK_MSG(strstr(json, lock) && strstr(json, "\"owner\":\"turn-7\"") && strstr(json, "\"count\":1") &&
                  strstr(json, "\"maxHoldMs\":300000"),
              "%s", json);
    swl_string_free(json);
    CHECK(swl_held_locks(NULL) == SWL_NULL_PARAMETER);

    /* a second acquire (no nesting by default) times out and names the blocking hold */
    swl_options other = options(50, false);
    swl_lock *m = NULL;
    CHECK(swl_acquire(file, &other, &m) == SWL_BUSY);
    CHECK_MSG(strstr(last_error(), "(held by this process: owner=turn-7, for "), "%s", errbuf);

    CHECK(swl_assert_owned(l) == SWL_OK);
    CHECK(swl_assert_owned(NULL) == SWL_NULL_PARAMETER);
    CHECK(unlink(lock) == 0); /* someone else removed it */
    CHECK(swl_assert_owned(l) == SWL_STALE);
    CHECK_MSG(strstr(last_error(), "session file lock stale (lease-lost): ") != NULL, "%s", errbuf);
    CHECK(swl_release(l) == SWL_IO); /* compromised */

    CHECK(swl_acquire(file, &o, &l) == SWL_OK);
    CHECK(swl_release_all() == 1);
    CHECK(swl_assert_owned(l) == SWL_STALE);
    CHECK(swl_release(l) == SWL_NOT_HELD);

    o.owner = "\xff\xfe";
    CHECK(swl_acquire(file, &o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "owner"), "%s", errbuf);
}

/* A live legacy holder that is only old: SWL_STALE at once, the file kept. */
static void test_report_only_stale(void) {
    char file[PATH_MAX], lock[PATH_MAX], payload[256];
    join(file, "report-only.jsonl");
    lock_path_of(lock, file);
    snprintf(payload, sizeof payload, "{\"pid\":%d,\"createdAt\":\"2000-01-01T00:00:00.000Z\"}", (int)getppid());
    write_file(lock, payload);
    swl_options o = options(30000, false);
    swl_lock *l = NULL;
    double started = now_ms();
    CHECK(swl_acquire(file, &o, &l) == SWL_STALE);
    CHECK(now_ms() - started < 10000);
    char expected[128];
    snprintf(expected, sizeof expected, "session file lock stale (too-old): pid=%d alive=true ageMs=", (int)getppid());
    CHECK_MSG(strncmp(last_error(), expected, strlen(expected)) == 0, "%s", errbuf);
    CHECK(exists(lock));
    CHECK(unlink(lock) == 0);
}

static void test_acquire_release(void) {
    char file[PATH_MAX], lock[PATH_MAX];
    join(file, "basic/a.jsonl"); /* the directory does not exist yet: created like mkdir -p */
    lock_path_of(lock, file);
    char *json = (char *)"sentinel";
    CHECK(swl_inspect(file, &json) == SWL_OK);
    CHECK_MSG(json == NULL, "no lock file yet, got %s", json);

    swl_options o = options(0, true);
    swl_lock *l = NULL;
    swl_status s = swl_acquire(file, &o, &l);
    CHECK_MSG(s == SWL_OK, "%s", last_error());
    CHECK(l != NULL);
    CHECK(exists(lock));
    char content[4096];
    read_file(lock, content, sizeof content);
    char pidfield[64];
    snprintf(pidfield, sizeof pidfield, "\"pid\":%d,", (int)getpid());
    CHECK_MSG(strstr(content, pidfield) && strstr(content, "\"flock\":true"), "%s", content);

    CHECK(swl_inspect(file, &json) == SWL_OK);
    CHECK(json != NULL);
    CHECK_MSG(strstr(json, "\"format\":\"flock\"") && strstr(json, "\"pidAlive\":true") &&
                  strstr(json, pidfield) && strstr(json, "\"stale\":false"),
              "%s", json);
    swl_string_free(json);

    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

static void test_null_parameters(void) {
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

static void test_invalid_arguments(void) {
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

static void test_io_error(void) {
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

static void test_buffers(void) {
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

static void test_busy_other_process(void) {
    char file[PATH_MAX], lock[PATH_MAX], owner[64];
    join(file, "busy.jsonl");
    lock_path_of(lock, file);
    struct holder h = start_holder(file);
    snprintf(owner, sizeof owner, "pid=%d ", (int)h.pid);
    CHECK(exists(lock));

    swl_options o = options(0, true);
    swl_lock *l = NULL;
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK(l == NULL);
    CHECK_MSG(strstr(last_error(), "session file locked (timeout 0ms): ") == errbuf &&
                  strstr(errbuf, owner) && strstr(errbuf, lock),
              "%s", errbuf);

    o.timeout_ms = 150;
    double t0 = now_ms();
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    double waited = now_ms() - t0;
    CHECK_MSG(waited >= 140 && waited < 5000, "waited %.0f ms", waited);
    CHECK_MSG(strstr(last_error(), "(timeout 150ms)") && strstr(errbuf, owner), "%s", errbuf);

    char *json = NULL;
    CHECK(swl_inspect(file, &json) == SWL_OK && json != NULL);
    CHECK_MSG(strstr(json, "\"pidAlive\":true") && strstr(json, "\"stale\":false"), "%s", json);
    swl_string_free(json);

    /* the holder lets go: a waiter gets the lock at once */
    close(h.stdin_fd);
    o.timeout_ms = 5000;
    t0 = now_ms();
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK_MSG(now_ms() - t0 < 4000, "took %.0f ms", now_ms() - t0);
    h.stdin_fd = open("/dev/null", O_RDONLY);
    stop_holder(h);
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));

    /* a holder killed with SIGKILL: the kernel drops its flock, the lock is reclaimed */
    h = start_holder(file);
    CHECK(kill(h.pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(h.pid, &status, 0) == h.pid);
    close(h.stdin_fd);
    CHECK(exists(lock));
    o.timeout_ms = 0;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

static void test_reentrancy(void) {
    char file[PATH_MAX], lock[PATH_MAX], owner[64];
    join(file, "reentrant.jsonl");
    lock_path_of(lock, file);
    swl_options o = options(0, true);
    swl_lock *a = NULL, *b = NULL;
    CHECK(swl_acquire(file, &o, &a) == SWL_OK);
    CHECK(swl_acquire(file, &o, &b) == SWL_OK);
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(swl_release(a) == SWL_OK);
    CHECK(exists(lock)); /* the second hold keeps it */
    CHECK(swl_release(b) == SWL_OK);
    CHECK(!exists(lock));

    o = options(100, false);
    CHECK(swl_acquire(file, &o, &a) == SWL_OK);
    CHECK(swl_acquire(file, &o, &b) == SWL_BUSY);
    CHECK(b == NULL);
    snprintf(owner, sizeof owner, "pid=%d", (int)getpid());
    CHECK_MSG(strstr(last_error(), owner) && strstr(errbuf, "(timeout 100ms)"), "%s", errbuf);
    CHECK(swl_release(a) == SWL_OK);
    CHECK(!exists(lock));
}

static void test_release_all_and_nonce(void) {
    char f1[PATH_MAX], f2[PATH_MAX], l1[PATH_MAX], l2[PATH_MAX];
    join(f1, "all/one.jsonl");
    join(f2, "all/two.jsonl");
    lock_path_of(l1, f1);
    lock_path_of(l2, f2);
    char n1[33], n2[33], n3[33];
    CHECK(swl_instance_nonce(n1, sizeof n1) == 32 && is_lower_hex(n1, 32));

    swl_options o = options(0, true);
    swl_lock *a = NULL, *b = NULL, *a2 = NULL;
    CHECK(swl_acquire(f1, &o, &a) == SWL_OK);
    CHECK(swl_acquire(f1, &o, &a2) == SWL_OK); /* reentrant: still one lock */
    CHECK(swl_acquire(f2, &o, &b) == SWL_OK);
    CHECK(swl_release_all() == 2);
    CHECK(!exists(l1) && !exists(l2));
    CHECK(swl_instance_nonce(n2, sizeof n2) == 32 && is_lower_hex(n2, 32));
    CHECK_MSG(strcmp(n1, n2) != 0, "nonce unchanged: %s", n1);
    CHECK(swl_release_all() == 0);

    /* old handles are no-ops, and never touch a newer lock of the same file */
    swl_lock *fresh = NULL;
    CHECK(swl_acquire(f1, &o, &fresh) == SWL_OK);
    CHECK(swl_release(a) == SWL_NOT_HELD);
    CHECK_MSG(strstr(last_error(), l1), "%s", errbuf);
    CHECK(swl_release(a2) == SWL_NOT_HELD);
    CHECK(swl_release(b) == SWL_NOT_HELD);
    CHECK(exists(l1));
    CHECK(swl_release(fresh) == SWL_OK);
    CHECK(!exists(l1));

    /* a lock held under an older nonce is taken over by the next acquire */
    CHECK(swl_acquire(f1, &o, &a) == SWL_OK);
    CHECK(swl_reset_instance_nonce() == SWL_OK);
    CHECK(swl_instance_nonce(n3, sizeof n3) == 32 && strcmp(n3, n2) != 0);
    CHECK_MSG(swl_acquire(f1, &o, &b) == SWL_OK, "%s", last_error());
    char content[4096];
    read_file(l1, content, sizeof content);
    CHECK_MSG(strstr(content, n3) != NULL, "%s", content);
    CHECK(swl_release(a) == SWL_NOT_HELD);
    CHECK(exists(l1));
    CHECK(swl_release(b) == SWL_OK);
    CHECK(!exists(l1));
}

static void test_stale_legacy(void) {
    char file[PATH_MAX], lock[PATH_MAX], payload[256], iso[64];
    join(file, "legacy.jsonl");
    lock_path_of(lock, file);
    iso_now(iso, sizeof iso);

    /* a live pid with a fresh createdAt: busy (the TypeScript rules) */
    snprintf(payload, sizeof payload, "{\"pid\":%d,\"createdAt\":\"%s\"}", (int)getppid(), iso);
    write_file(lock, payload);
    swl_options o = options(0, true);
    swl_lock *l = NULL;
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    char owner[64];
    snprintf(owner, sizeof owner, "pid=%d ", (int)getppid());
    CHECK_MSG(strstr(last_error(), owner), "%s", errbuf);
    CHECK(exists(lock));

    /* a dead pid: reclaimed at once */
    pid_t dead = dead_pid();
    snprintf(payload, sizeof payload, "{\"pid\":%d,\"createdAt\":\"%s\"}", (int)dead, iso);
    write_file(lock, payload);
    char *json = NULL;
    CHECK(swl_inspect(file, &json) == SWL_OK && json != NULL);
    CHECK_MSG(strstr(json, "\"format\":\"legacy\"") && strstr(json, "\"dead-pid\"") &&
                  strstr(json, "\"stale\":true"),
              "%s", json);
    swl_string_free(json);
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    char content[4096];
    read_file(lock, content, sizeof content);
    CHECK_MSG(strstr(content, "\"flock\":true"), "%s", content);
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

/* Files of other programs under each swl_options.foreign rule: a 40 s old liblockfile-style
 * dotlock of a dead pid is kept by SWL_FOREIGN_KEEP (and reported with its pid), taken over by
 * SWL_FOREIGN_DOTLOCK; the default (the gateway's rules) is tested by test_stale_legacy. */
static void test_foreign_files(void) {
    char file[PATH_MAX], lock[PATH_MAX], content[64], dotlock[32], pid_text[32];
    join(file, "mailbox");
    lock_path_of(lock, file);
    snprintf(dotlock, sizeof dotlock, "%d\n", (int)dead_pid());
    write_file(lock, dotlock);
    set_mtime_ago(lock, 40);

    swl_options o = options(0, false);
    o.foreign = SWL_FOREIGN_KEEP;
    swl_lock *l = NULL;
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    snprintf(pid_text, sizeof pid_text, "pid=%d alive=false", (int)dead_pid());
    CHECK_MSG(strstr(last_error(), pid_text), "%s", errbuf);
    read_file(lock, content, sizeof content);
    CHECK_MSG(strcmp(content, dotlock) == 0, "kept as it was: %s", content);

    o.foreign = 7;
    CHECK(swl_acquire(file, &o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "foreign"), "%s", errbuf);
    CHECK(l == NULL && exists(lock));

    o.foreign = SWL_FOREIGN_DOTLOCK;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

static void test_hostile_files(void) {
    char file[PATH_MAX], lock[PATH_MAX];
    join(file, "hostile.jsonl");
    lock_path_of(lock, file);
    swl_options o = options(0, true);
    swl_lock *l = NULL;
    struct stat st;

    /* a directory: busy, never removed; with a timeout, busy after it */
    CHECK(mkdir(lock, 0755) == 0);
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK_MSG(strstr(last_error(), "a directory"), "%s", errbuf);
    o.timeout_ms = 100;
    double t0 = now_ms();
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK(now_ms() - t0 >= 90);
    o.timeout_ms = 0;
    set_mtime_ago(lock, 7200);
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY); /* old or not */
    CHECK(lstat(lock, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(rmdir(lock) == 0);

    /* a FIFO: busy without blocking on it, never removed */
    CHECK(mkfifo(lock, 0644) == 0);
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK_MSG(strstr(last_error(), "a FIFO"), "%s", errbuf);
    CHECK(lstat(lock, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(unlink(lock) == 0);

    /* a symbolic link (to a file that is not ours): busy, neither link nor target touched */
    struct stat target_before, target_after;
    int have_target = stat("/etc/hostname", &target_before) == 0;
    CHECK(symlink("/etc/hostname", lock) == 0);
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK_MSG(strstr(last_error(), "a symbolic link"), "%s", errbuf);
    CHECK(lstat(lock, &st) == 0 && S_ISLNK(st.st_mode));
    if (have_target) {
        CHECK(stat("/etc/hostname", &target_after) == 0);
        CHECK(target_after.st_ino == target_before.st_ino &&
              target_after.st_size == target_before.st_size);
    }
    CHECK(unlink(lock) == 0);

    /* a 100 MiB sparse file, fresh: garbage of unknown age is kept (busy) */
    int fd = open(lock, O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 100L << 20) == 0);
    close(fd);
    t0 = now_ms();
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK_MSG(now_ms() - t0 < 2000, "took %.0f ms: was the file read whole?", now_ms() - t0);
    CHECK(stat(lock, &st) == 0 && st.st_size == 100L << 20);
    /* … and reclaimed once older than stale_ms */
    set_mtime_ago(lock, 7200);
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(stat(lock, &st) == 0 && st.st_size < 4096);
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));

    /* garbage bytes, fresh: busy and kept */
    write_file(lock, "\x01\x02garbage{{{not json");
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY);
    CHECK(exists(lock));
    char content[256];
    read_file(lock, content, sizeof content);
    CHECK(strcmp(content, "\x01\x02garbage{{{not json") == 0);
    /* garbage bytes with an old mtime: reclaimed */
    set_mtime_ago(lock, 7200);
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    read_file(lock, content, sizeof content);
    CHECK(strstr(content, "\"flock\":true") != NULL);
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

static void test_clean_stale(void) {
    char dir[PATH_MAX], stale_file[PATH_MAX], held_file[PATH_MAX], stale_lock[PATH_MAX],
        held_lock[PATH_MAX], payload[256], iso[64];
    join(dir, "clean");
    join(stale_file, "clean/a.jsonl");
    join(held_file, "clean/b.jsonl");
    lock_path_of(stale_lock, stale_file);
    lock_path_of(held_lock, held_file);

    swl_options o = options(0, true);
    swl_lock *held = NULL;
    CHECK(swl_acquire(held_file, &o, &held) == SWL_OK);
    iso_now(iso, sizeof iso);
    snprintf(payload, sizeof payload, "{\"pid\":%d,\"createdAt\":\"%s\"}", (int)dead_pid(), iso);
    write_file(stale_lock, payload);

    char *json = NULL;
    CHECK_MSG(swl_clean_stale(dir, 1800000, false, &json) == SWL_OK, "%s", last_error());
    CHECK(json != NULL);
    CHECK_MSG(strstr(json, stale_lock) && strstr(json, held_lock) &&
                  strstr(json, "\"cleaned\":[]") && strstr(json, "\"tempFilesRemoved\":[]"),
              "%s", json);
    CHECK(strstr(json, stale_lock) < strstr(json, held_lock)); /* sorted by name */
    swl_string_free(json);
    CHECK(exists(stale_lock));

    CHECK(swl_clean_stale(dir, 1800000, true, &json) == SWL_OK);
    const char *cleaned = strstr(json, "\"cleaned\":[");
    CHECK_MSG(cleaned && strstr(cleaned, stale_lock) && !strstr(cleaned, held_lock) &&
                  strstr(json, "\"removed\":true"),
              "%s", json);
    swl_string_free(json);
    CHECK(!exists(stale_lock));
    CHECK(exists(held_lock));
    CHECK(swl_release(held) == SWL_OK);

    char missing[PATH_MAX];
    join(missing, "no/such/dir");
    CHECK(swl_clean_stale(missing, 1000, true, &json) == SWL_OK);
    CHECK_MSG(json && strstr(json, "\"locks\":[]"), "%s", json ? json : "(null)");
    swl_string_free(json);
}

/* Temp files of crashed writers (`.<lock name>.<hex>.tmp`, docs/PROTOCOL.md "Cleaning up"):
 * the sweep removes those older than the stale time, keeps younger ones, and lists what it
 * removed. */
static void test_clean_crashed_writers_temp_files(void) {
    char dir[PATH_MAX], old_temp[PATH_MAX], young_temp[PATH_MAX];
    join(dir, "temps");
    join(old_temp, "temps/.a.jsonl.lock.00000000000000aa.tmp");
    join(young_temp, "temps/.b.jsonl.lock.00000000000000bb.tmp");
    CHECK(mkdir(dir, 0755) == 0);
    write_file(old_temp, "{\"pid\":1");
    write_file(young_temp, "{\"pid\":1");
    struct timeval an_hour_ago[2];
    CHECK(gettimeofday(&an_hour_ago[0], NULL) == 0);
    an_hour_ago[0].tv_sec -= 3600;
    an_hour_ago[1] = an_hour_ago[0];
    CHECK(utimes(old_temp, an_hour_ago) == 0);

    char *json = NULL;
    CHECK_MSG(swl_clean_stale(dir, 1800000, true, &json) == SWL_OK, "%s", last_error());
    const char *removed = json ? strstr(json, "\"tempFilesRemoved\":[") : NULL;
    CHECK_MSG(removed && strstr(removed, old_temp) && !strstr(removed, young_temp), "%s",
              json ? json : "(null)");
    swl_string_free(json);
    CHECK(!exists(old_temp));
    CHECK(exists(young_temp));
}

/* 8 threads of one process contend for one file (allow_reentrant = false): never two inside. */
#define THREADS 8
#define ROUNDS 200

static char contended_file[PATH_MAX], marker[PATH_MAX];
static atomic_int inside, violations, failures;
static long counter; /* protected by the session lock alone */

static void *contender(void *arg) {
    (void)arg;
    swl_options o = options(60000, false);
    for (int i = 0; i < ROUNDS; i++) {
        swl_lock *l = NULL;
        swl_status s = swl_acquire(contended_file, &o, &l);
        if (s != SWL_OK) {
            char message[512];
            swl_last_error(message, sizeof message);
            fprintf(stderr, "contender: acquire: %s: %s\n", swl_status_str(s), message);
            atomic_fetch_add(&failures, 1);
            continue;
        }
        if (atomic_fetch_add(&inside, 1) != 0) {
            atomic_fetch_add(&violations, 1);
        }
        int fd = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) {
            atomic_fetch_add(&violations, 1);
        } else {
            close(fd);
        }
        long seen = counter;
        sched_yield();
        counter = seen + 1;
        if (fd >= 0) {
            unlink(marker);
        }
        atomic_fetch_sub(&inside, 1);
        if (swl_release(l) != SWL_OK) {
            atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

static void test_threads(void) {
    join(contended_file, "threads/contended.jsonl");
    join(marker, "threads/inside.marker");
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, contender, NULL) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    CHECK_MSG(atomic_load(&violations) == 0, "%d mutual-exclusion violations",
              atomic_load(&violations));
    CHECK_MSG(atomic_load(&failures) == 0, "%d failed calls", atomic_load(&failures));
    CHECK_MSG(counter == THREADS * ROUNDS, "counter %ld, expected %d", counter,
              THREADS * ROUNDS);
    char lock[PATH_MAX];
    lock_path_of(lock, contended_file);
    CHECK(!exists(lock) && !exists(marker));
}

/* The watchdog force-releases a lock held past max_hold_ms and says so through the callback. */
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[8192];

static void collect_log(void *user, const char *line) {
    pthread_mutex_lock(&log_mutex);
    atomic_fetch_add((atomic_int *)user, 1);
    size_t used = strlen(log_lines);
    snprintf(log_lines + used, sizeof log_lines - used, "%s\n", line);
    pthread_mutex_unlock(&log_mutex);
}

static int log_contains(const char *needle) {
    pthread_mutex_lock(&log_mutex);
    int found = strstr(log_lines, needle) != NULL;
    pthread_mutex_unlock(&log_mutex);
    return found;
}

static void test_watchdog_log_callback(void) {
    static atomic_int calls;
    char file[PATH_MAX], lock[PATH_MAX];
    join(file, "watchdog.jsonl");
    lock_path_of(lock, file);
    swl_set_log_callback(collect_log, &calls);

    swl_options o = options(0, true);
    o.max_hold_ms = 200;
    swl_lock *l = NULL;
    double t0 = now_ms();
    CHECK(swl_acquire(file, &o, &l) == SWL_OK);
    /* The log line is the handshake; the bound only turns a hang into a failure. */
    for (double t = now_ms(); now_ms() - t < 10000 && !log_contains("releasing lock held for");) {
        sleep_ms(10);
    }
    CHECK_MSG(log_contains("[session-write-lock] releasing lock held for") &&
                  log_contains("(max=200ms): ") && log_contains(lock),
              "log: %s", log_lines);
    CHECK(atomic_load(&calls) >= 1);
    CHECK(now_ms() - t0 >= 200);
    CHECK(!exists(lock));
    CHECK(swl_release(l) == SWL_NOT_HELD);
    swl_set_log_callback(NULL, NULL);
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

static void test_extreme_values(void) {
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

/* What a forked child of test_fork_child_holds_nothing tries, and the pipe of its verdict. */
struct fork_probe {
    const char *file;
    int verdict[2];
};

/* Forks; the child tries the parent's lock and writes 'B' for busy (else the status). Run on a
 * thread of its own, the process's newest: under qemu-user (7.2) a child forked by an older
 * thread of a threaded process aborts when it starts a thread (as its first swl_acquire does),
 * because the emulator hands it the CPU index of one of the parent's other threads. */
static void *fork_and_try(void *arg) {
    struct fork_probe *probe = arg;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(probe->verdict[0]);
        swl_options o = options(0, true);
        swl_lock *mine = NULL;
        /* reentrant, but the parent's hold is not the child's: busy */
        swl_status s = swl_acquire(probe->file, &o, &mine);
        char answer = s == SWL_BUSY ? 'B' : (char)('0' + (int)s);
        ssize_t written = write(probe->verdict[1], &answer, 1);
        _exit(written == 1 ? 0 : 1);
    }
    return (void *)(intptr_t)pid;
}

/* docs/PROTOCOL.md, "Fork": a forked child holds nothing, and its copies of the lock fds do not
 * keep the lock. */
static void test_fork_child_holds_nothing(void) {
    char file[PATH_MAX], lock[PATH_MAX];
    join(file, "fork.jsonl");
    lock_path_of(lock, file);
    swl_options o = options(0, true);
    swl_lock *l = NULL;
    CHECK(swl_acquire(file, &o, &l) == SWL_OK);
    /* The verdict comes through a pipe, not the exit status: under valgrind a forked child's
     * exit status reports "leaks" of the threads that fork() left behind. */
    struct fork_probe probe = {.file = file};
    CHECK(pipe(probe.verdict) == 0);
    pthread_t forker;
    void *forked;
    CHECK(pthread_create(&forker, NULL, fork_and_try, &probe) == 0);
    CHECK(pthread_join(forker, &forked) == 0);
    pid_t pid = (pid_t)(intptr_t)forked;
    CHECK(pid > 0);
    close(probe.verdict[1]);
    char answer = 0;
    CHECK_MSG(read(probe.verdict[0], &answer, 1) == 1, "the child ended without an answer");
    close(probe.verdict[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(answer == 'B', "child's acquire gave status %c, expected SWL_BUSY", answer);
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
}

/* A path that names a directory (ends in `/`, `.` or `..`) is refused before any I/O: before,
 * "<dir>/." locked "<parent>/<dir>.lock". */
static void test_directory_paths(void) {
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

/* A forked child's first nonce is drawn afresh, not copied with the parent's generator: it
 * differs from the parent's next nonce in every one of 20 forks. */
static void test_fork_nonces(void) {
    enum { FORKS = 20 };
    int differ = 0;
    for (int i = 0; i < FORKS; i++) {
        char parent_next[33], child_first[33] = {0};
        int pipe_fds[2];
        CHECK(pipe(pipe_fds) == 0);
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(pipe_fds[0]);
            char nonce[33];
            size_t n = swl_instance_nonce(nonce, sizeof nonce);
            ssize_t written = write(pipe_fds[1], nonce, 32);
            _exit(n == 32 && written == 32 ? 0 : 1);
        }
        close(pipe_fds[1]);
        CHECK(swl_reset_instance_nonce() == SWL_OK);
        CHECK(swl_instance_nonce(parent_next, sizeof parent_next) == 32);
        CHECK(read(pipe_fds[0], child_first, 32) == 32);
        close(pipe_fds[0]);
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        differ += strcmp(parent_next, child_first) != 0;
    }
    CHECK_MSG(differ == FORKS, "the child's first nonce differed from the parent's next in %d of %d forks",
              differ, FORKS);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s HOLDER_BINARY\n", argv[0]);
        return 2;
    }
    holder_binary = argv[1];
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/swl-c-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK_MSG(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
    /* the library resolves the real directory; compare paths against it */
    char real[PATH_MAX];
    CHECK(realpath(root, real) != NULL);
    snprintf(root, sizeof root, "%s", real);

    test_version_and_status_strings();
    test_options_defaults();
    test_options_old_size();
    test_owner_held_locks_and_assert_owned();
    test_report_only_stale();
    test_acquire_release();
    test_null_parameters();
    test_invalid_arguments();
    test_io_error();
    test_buffers();
    test_busy_other_process();
    test_reentrancy();
    test_release_all_and_nonce();
    test_stale_legacy();
    test_foreign_files();
    test_hostile_files();
    test_clean_stale();
    test_clean_crashed_writers_temp_files();
    test_threads();
    test_watchdog_log_callback();
    test_extreme_values();
    test_fork_child_holds_nothing();
    test_directory_paths();
    test_fork_nonces();

    CHECK(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
    check_summary(0);
    return 0;
}
