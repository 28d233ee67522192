/* The C worker of the reliability run (tests/reliability/): the same modes and output as the
 * Rust worker (tests/support/worker.rs) and the Node worker (tests/reliability/node_worker.cjs),
 * so that one orchestrator drives all three languages alike. Compiled by
 * tests/reliability/run.sh, not by tests/c/run.sh.
 *
 *   storm FILE ITERATIONS MARKER STALE_EVERY   prints "acquired=N violations=V stale_left=S"
 *   victim FILE MARKER                         prints "held <pid>", then waits for SIGKILL
 *   try FILE TIMEOUT_MS                        prints "acquired" | "busy <msg>" | "error <STATUS> <msg>"
 *   hold FILE                                  prints "held <pid>"; on a stdin line releases and
 *                                              prints "released <STATUS> <msg>"; log lines as "log <line>"
 *
 * FILE must lie in a directory given by its real path: the lock file is then FILE".lock". */
#include "session_write_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, swl_status status) {
    char message[1024];
    swl_last_error(message, sizeof message);
    fprintf(stderr, "c-worker: %s: %s: %s\n", what, swl_status_str(status), message);
    exit(10);
}

static void say(const char *line) {
    printf("%s\n", line);
    fflush(stdout);
}

/* "SWL_BUSY" out of "SWL_BUSY: the lock is busy". */
static void status_name(swl_status status, char *buf, size_t len) {
    snprintf(buf, len, "%s", swl_status_str(status));
    buf[strcspn(buf, ":")] = '\0';
}

static swl_lock *take(const char *file, int64_t timeout_ms, swl_status *status) {
    swl_options opts;
    swl_options_init(&opts);
    opts.timeout_ms = timeout_ms;
    opts.allow_reentrant = false;
    swl_lock *lock = NULL;
    *status = swl_acquire(file, &opts, &lock);
    return lock;
}

/* Creates the marker with O_EXCL: 0 means someone else is inside the critical section too. */
static int enter(const char *marker) {
    int fd = open(marker, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return 0;
        perror("c-worker: create marker");
        exit(11);
    }
    close(fd);
    return 1;
}

/* A pid no process can have: above the kernel's pid_max. A reaped child's pid could be reused
 * during a long storm, and a reused pid would keep a legacy lock dated in the future alive. */
static pid_t dead_pid(void) {
    long pid_max = 4194304; /* PID_MAX_LIMIT, the most pid_max can be */
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid_max) != 1) pid_max = 4194304;
        fclose(f);
    }
    return (pid_t)(pid_max + 1);
}

/* A TypeScript-format lock file of a dead process in `temp`, to be linked into place later. */
static void prepare_stale_legacy_lock(const char *temp) {
    FILE *f = fopen(temp, "w");
    if (!f) {
        perror("c-worker: write stale temp");
        exit(13);
    }
    fprintf(f, "{\"pid\":%d,\"createdAt\":\"2099-01-01T00:00:00.000Z\"}", (int)dead_pid());
    fclose(f);
}

static int storm(const char *file, long iterations, const char *marker, long stale_every) {
    char lock_path[PATH_MAX], stale_temp[PATH_MAX];
    snprintf(lock_path, sizeof lock_path, "%s.lock", file);
    snprintf(stale_temp, sizeof stale_temp, "%s.stale-%d", file, (int)getpid());
    long acquired = 0, violations = 0, stale_left = 0;
    /* Stale files owed (one per STALE_EVERY iterations) and whether one is ready in stale_temp:
     * a waiter often takes the freed path first, so an unlanded file is tried again after the
     * next release. */
    long owed = 0;
    int pending = 0;
    const struct timespec inside = {0, 50 * 1000};
    for (long i = 1; i <= iterations; i++) {
        swl_status status;
        swl_lock *lock = take(file, -1, &status);
        if (status != SWL_OK) die("acquire in storm", status);
        acquired++;
        if (enter(marker)) {
            nanosleep(&inside, NULL);
            unlink(marker);
        } else {
            violations++;
        }
        owed += i % stale_every == 0;
        if (owed > 0 && !pending) {
            prepare_stale_legacy_lock(stale_temp); /* while we still hold the lock */
            pending = 1;
        }
        status = swl_release(lock);
        if (status != SWL_OK) die("release in storm", status);
        if (pending && link(stale_temp, lock_path) == 0) { /* only if the path is free */
            unlink(stale_temp);
            pending = 0;
            owed--;
            stale_left++;
        }
    }
    if (pending) unlink(stale_temp);
    printf("acquired=%ld violations=%ld stale_left=%ld\n", acquired, violations, stale_left);
    return 0;
}

static void wait_for_stdin_eof(void) {
    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
}

static int victim(const char *file, const char *marker) {
    swl_status status;
    swl_lock *lock = take(file, -1, &status);
    if (status != SWL_OK) die("acquire as victim", status);
    if (!enter(marker)) {
        say("violation");
        return 3;
    }
    printf("held %d\n", (int)getpid());
    fflush(stdout);
    wait_for_stdin_eof(); /* until SIGKILL; EOF: the orchestrator is gone, leave like a crash */
    (void)lock;
    _exit(4);
}

static int try_once(const char *file, long timeout_ms) {
    swl_status status;
    swl_lock *lock = take(file, timeout_ms, &status);
    char message[1024], name[64];
    swl_last_error(message, sizeof message);
    if (status == SWL_OK) {
        status = swl_release(lock);
        if (status != SWL_OK) die("release after try", status);
        say("acquired");
        return 0;
    }
    if (status == SWL_BUSY) {
        printf("busy %s\n", message);
        return 1;
    }
    status_name(status, name, sizeof name);
    printf("error %s %s\n", name, message);
    return 2;
}

static void print_log_line(void *user, const char *line) {
    (void)user;
    printf("log %s\n", line);
    fflush(stdout);
}

static int hold(const char *file) {
    swl_set_log_callback(print_log_line, NULL);
    swl_options opts;
    swl_options_init(&opts);
    swl_lock *lock = NULL;
    swl_status status = swl_acquire(file, &opts, &lock);
    if (status != SWL_OK) die("acquire to hold", status);
    printf("held %d\n", (int)getpid());
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 5;
    status = swl_release(lock);
    char message[1024] = "", name[64];
    if (status != SWL_OK) swl_last_error(message, sizeof message);
    status_name(status, name, sizeof name);
    printf("released %s %s\n", name, message);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "storm") == 0)
        return storm(argv[2], atol(argv[3]), argv[4], atol(argv[5]));
    if (argc == 4 && strcmp(argv[1], "victim") == 0) return victim(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "try") == 0) return try_once(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "hold") == 0) return hold(argv[2]);
    fprintf(stderr, "usage: storm_worker storm|victim|try|hold FILE …\n");
    return 2;
}
