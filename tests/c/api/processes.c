/* Around the process: the watchdog's release and its log callback, and fork(). */
#include "api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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

void test_watchdog_log_callback(void) {
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
void test_fork_child_holds_nothing(void) {
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

/* A forked child's first nonce is drawn afresh, not copied with the parent's generator: it
 * differs from the parent's next nonce in every one of 20 forks. */
void test_fork_nonces(void) {
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
