/* Taking and releasing locks: against another process, reentrancy, release-all and the nonce,
 * owners, held locks and assert-owned, a stale holder only reported, threads of one process. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

void test_acquire_release(void) {
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

void test_busy_other_process(void) {
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

void test_reentrancy(void) {
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

void test_release_all_and_nonce(void) {
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

/* The owner label, held_locks, assert_owned and the diagnostics of a busy error. */
void test_owner_held_locks_and_assert_owned(void) {
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
void test_report_only_stale(void) {
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

void test_threads(void) {
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
