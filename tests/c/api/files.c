/* Lock files found on disk: legacy ones, hostile ones (directories, FIFOs, links, huge or
 * garbage files), and the sweeps of swl_clean_stale, crashed writers' temp files included. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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

void test_stale_legacy(void) {
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
void test_foreign_files(void) {
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

void test_hostile_files(void) {
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

void test_clean_stale(void) {
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
void test_clean_crashed_writers_temp_files(void) {
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
