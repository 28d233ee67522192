/* The C API of session-write-lock on Windows, against the DLL or the static library (the same
 * source, built twice by tests/c/windows/run.sh). tests/c/test_api.c needs fork and flock;
 * this covers what a Windows program meets: NULL pointers, bad options, status values, a
 * second process finding the lock busy, and a holder ended by TerminateProcess whose lock is
 * taken over at once. The second process is this program itself, started by CreateProcess as
 * `test_win --hold FILE`. Prints "N passed, 0 failed", or stops at the first failed CHECK. */
#include "session_write_lock.h"

#include "check.h"

#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char root[MAX_PATH];
static char errbuf[4096];

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *last_error(void) {
    swl_last_error(errbuf, sizeof errbuf);
    return errbuf;
}

static void join(char *out, const char *name) {
    int n = snprintf(out, MAX_PATH, "%s\\%s", root, name);
    CHECK_MSG(n > 0 && n < MAX_PATH, "path too long: %s", name);
}

static void lock_path_of(char *out, const char *session_file) {
    int n = snprintf(out, MAX_PATH, "%s.lock", session_file);
    CHECK(n > 0 && n < MAX_PATH);
}

static int exists(const char *path) { return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES; }

static swl_options options(int64_t timeout_ms) {
    swl_options o;
    swl_options_init(&o);
    o.timeout_ms = timeout_ms;
    return o;
}

/* A holder: this program in --hold mode, with pipes to its stdin and from its stdout. */
struct holder {
    PROCESS_INFORMATION pi;
    HANDLE to_child;
};

static struct holder start_holder(const char *file) {
    SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
    HANDLE child_in, to_child, from_child, child_out;
    CHECK(CreatePipe(&child_in, &to_child, &inherit, 0));
    CHECK(CreatePipe(&from_child, &child_out, &inherit, 0));
    /* only the child's ends are inherited: our end of its stdin must close to end it */
    CHECK(SetHandleInformation(to_child, HANDLE_FLAG_INHERIT, 0));
    CHECK(SetHandleInformation(from_child, HANDLE_FLAG_INHERIT, 0));

    char exe[MAX_PATH], cmd[3 * MAX_PATH];
    DWORD len = GetModuleFileNameA(NULL, exe, sizeof exe);
    CHECK(len > 0 && len < sizeof exe);
    int n = snprintf(cmd, sizeof cmd, "\"%s\" --hold \"%s\"", exe, file);
    CHECK(n > 0 && n < (int)sizeof cmd);
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = child_in;
    si.hStdOutput = child_out;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    struct holder h;
    memset(&h, 0, sizeof h);
    CHECK_MSG(CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &h.pi),
              "CreateProcess %s: error %lu", cmd, (unsigned long)GetLastError());
    CloseHandle(child_in);
    CloseHandle(child_out);
    h.to_child = to_child;

    char line[16] = {0};
    size_t got = 0;
    while (got < sizeof line - 1 && (got == 0 || line[got - 1] != '\n')) {
        DWORD n_read = 0;
        if (!ReadFile(from_child, line + got, 1, &n_read, NULL) || n_read == 0) break;
        got += n_read;
    }
    CloseHandle(from_child);
    line[strcspn(line, "\r\n")] = '\0'; /* its stdout is in text mode: "held\r\n" */
    CHECK_MSG(strcmp(line, "held") == 0, "the holder said \"%s\" instead of \"held\"", line);
    return h;
}

/* Ends a holder's stdin; it releases and must exit 0. */
static void stop_holder(struct holder h) {
    CloseHandle(h.to_child);
    CHECK(WaitForSingleObject(h.pi.hProcess, 30000) == WAIT_OBJECT_0);
    DWORD code = 1;
    CHECK(GetExitCodeProcess(h.pi.hProcess, &code));
    CHECK_MSG(code == 0, "holder exit code %lu", (unsigned long)code);
    CloseHandle(h.pi.hProcess);
    CloseHandle(h.pi.hThread);
}

/* --hold FILE: acquires FILE, says "held", holds until stdin ends, releases. */
static int hold(const char *file) {
    swl_options o = options(5000);
    swl_lock *lock = NULL;
    swl_status s = swl_acquire(file, &o, &lock);
    if (s != SWL_OK) {
        fprintf(stderr, "holder: acquire: %s: %s\n", swl_status_str(s), last_error());
        return 3;
    }
    printf("held\n");
    fflush(stdout);
    char buf[64];
    DWORD n = 0;
    while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, &n, NULL) && n > 0) {
    }
    s = swl_release(lock);
    if (s != SWL_OK) {
        fprintf(stderr, "holder: release: %s: %s\n", swl_status_str(s), last_error());
        return 4;
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_version_and_status_strings(void) {
    char header_version[64];
    snprintf(header_version, sizeof header_version, "%d.%d.%d", SWL_VERSION_MAJOR,
             SWL_VERSION_MINOR, SWL_VERSION_PATCH);
    const char *v = swl_version();
    CHECK_MSG(v != NULL && strcmp(v, header_version) == 0, "library %s, header %s", v,
              header_version);
    const struct {
        swl_status status;
        const char *name;
    } all[] = {{SWL_OK, "SWL_OK"},           {SWL_BUSY, "SWL_BUSY"},
               {SWL_INVALID_ARGUMENT, "SWL_INVALID_ARGUMENT"},
               {SWL_NULL_PARAMETER, "SWL_NULL_PARAMETER"},
               {SWL_IO, "SWL_IO"},           {SWL_NOT_HELD, "SWL_NOT_HELD"},
               {SWL_PANIC, "SWL_PANIC"},     {SWL_STALE, "SWL_STALE"}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = swl_status_str(all[i].status);
        CHECK_MSG(s != NULL && strncmp(s, all[i].name, strlen(all[i].name)) == 0, "%s -> %s",
                  all[i].name, s ? s : "(null)");
        CHECK((int)all[i].status == (int)i);
    }
    CHECK(strcmp(swl_status_str((swl_status)99), "unknown swl_status") == 0);
}

/* The defaults, and the environment variables the gateway reads (set the Windows way). */
static void test_options(void) {
    swl_options o;
    swl_options_init(&o);
    CHECK(o.size == sizeof(swl_options));
    CHECK(o.timeout_ms == 60000 && o.stale_ms == 1800000 && o.max_hold_ms == 300000);
    CHECK(o.allow_reentrant == false && o.owner == NULL);
    CHECK(SetEnvironmentVariableA("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "2500"));
    swl_options_init(&o);
    CHECK_MSG(o.timeout_ms == 2500, "timeout_ms %lld", (long long)o.timeout_ms);
    CHECK(SetEnvironmentVariableA("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", NULL));
    swl_options_init(&o);
    CHECK(o.timeout_ms == 60000);
}

static void test_null_parameters(void) {
    char file[MAX_PATH];
    join(file, "null.jsonl");
    swl_options o = options(0);
    swl_lock *l = NULL;
    char *json = NULL;
    CHECK(swl_acquire(NULL, &o, &l) == SWL_NULL_PARAMETER && l == NULL);
    CHECK_MSG(strstr(last_error(), "session_file"), "%s", errbuf);
    CHECK(swl_acquire(file, NULL, &l) == SWL_NULL_PARAMETER);
    CHECK_MSG(strstr(last_error(), "opts"), "%s", errbuf);
    CHECK(swl_acquire(file, &o, NULL) == SWL_NULL_PARAMETER);
    CHECK_MSG(strstr(last_error(), "out"), "%s", errbuf);
    CHECK(!exists(file));
    CHECK(swl_release(NULL) == SWL_NULL_PARAMETER);
    CHECK(swl_assert_owned(NULL) == SWL_NULL_PARAMETER);
    CHECK(swl_inspect(NULL, &json) == SWL_NULL_PARAMETER && json == NULL);
    CHECK(swl_inspect(file, NULL) == SWL_NULL_PARAMETER);
    CHECK(swl_clean_stale(NULL, 1000, false, &json) == SWL_NULL_PARAMETER && json == NULL);
    CHECK(swl_held_locks(NULL) == SWL_NULL_PARAMETER);
    swl_string_free(NULL);
    /* the message's length, also when it does not fit */
    size_t needed = swl_last_error(NULL, 0);
    CHECK(needed > 0 && swl_last_error(NULL, 100) == needed);
    char small[8];
    CHECK(swl_last_error(small, sizeof small) == needed && small[7] == '\0');
}

static void test_bad_input(void) {
    char file[MAX_PATH];
    join(file, "options.jsonl");
    swl_options o = options(0);
    swl_lock *l = NULL;
    const struct {
        int64_t timeout_ms, stale_ms, max_hold_ms;
        const char *field;
    } bad[] = {{-2, 1000, 1000, "timeout_ms"}, {0, 0, 1000, "stale_ms"},
               {0, -1, 1000, "stale_ms"},      {0, 1000, 0, "max_hold_ms"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.timeout_ms = bad[i].timeout_ms;
        o.stale_ms = bad[i].stale_ms;
        o.max_hold_ms = bad[i].max_hold_ms;
        CHECK(swl_acquire(file, &o, &l) == SWL_INVALID_ARGUMENT && l == NULL);
        CHECK_MSG(strstr(last_error(), bad[i].field), "case %u: %s", (unsigned)i, errbuf);
    }
    o = options(0);
    o.size = 3; /* smaller than the first field after it */
    CHECK(swl_acquire(file, &o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "size"), "%s", errbuf);
    o = options(0);
    CHECK(swl_acquire("", &o, &l) == SWL_INVALID_ARGUMENT);
    char not_utf8[MAX_PATH];
    join(not_utf8, "\xff.jsonl");
    CHECK(swl_acquire(not_utf8, &o, &l) == SWL_INVALID_ARGUMENT);
    CHECK_MSG(strstr(last_error(), "UTF-8"), "%s", errbuf);
    CHECK(!exists(file));
}

/* Acquire, what the lock file and inspect say, release. */
static void test_acquire_release(void) {
    char file[MAX_PATH], lock[MAX_PATH], pidfield[64];
    join(file, "basic\\a.jsonl"); /* the directory does not exist yet: created */
    lock_path_of(lock, file);
    snprintf(pidfield, sizeof pidfield, "\"pid\":%lu,", (unsigned long)GetCurrentProcessId());
    char *json = (char *)"sentinel";
    CHECK(swl_inspect(file, &json) == SWL_OK && json == NULL);

    swl_options o = options(0);
    swl_lock *l = NULL;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(l != NULL && exists(lock));
    CHECK_MSG(swl_assert_owned(l) == SWL_OK, "%s", last_error());
    CHECK(swl_inspect(file, &json) == SWL_OK && json != NULL);
    CHECK_MSG(strstr(json, "\"pidAlive\":true") && strstr(json, pidfield) &&
                  strstr(json, "\"stale\":false"),
              "%s", json);
    swl_string_free(json);
    /* a second hold in this process without allow_reentrant: busy, says who holds it */
    swl_lock *m = NULL;
    CHECK(swl_acquire(file, &o, &m) == SWL_BUSY && m == NULL);
    CHECK_MSG(strstr(last_error(), "(held by this process: "), "%s", errbuf);
    CHECK_MSG(swl_release(l) == SWL_OK, "%s", last_error());
    CHECK(!exists(lock));
    CHECK(swl_acquire(file, &o, &l) == SWL_OK);
    CHECK(swl_release_all() == 1);
    CHECK(swl_release(l) == SWL_NOT_HELD);
}

/* Another process holds the lock: busy, naming its pid; when it lets go, ours. */
static void test_busy_other_process(void) {
    char file[MAX_PATH], lock[MAX_PATH], owner[64];
    join(file, "busy.jsonl");
    lock_path_of(lock, file);
    struct holder h = start_holder(file);
    snprintf(owner, sizeof owner, "pid=%lu ", (unsigned long)h.pi.dwProcessId);
    CHECK(exists(lock));
    swl_options o = options(0);
    swl_lock *l = NULL;
    CHECK(swl_acquire(file, &o, &l) == SWL_BUSY && l == NULL);
    CHECK_MSG(strstr(last_error(), "session file locked (timeout 0ms): ") == errbuf &&
                  strstr(errbuf, owner) && strstr(errbuf, lock),
              "%s", errbuf);
    char *json = NULL;
    CHECK(swl_inspect(file, &json) == SWL_OK && json != NULL);
    CHECK_MSG(strstr(json, "\"pidAlive\":true") && strstr(json, "\"stale\":false"), "%s", json);
    swl_string_free(json);
    /* the lock file is readable while held: the lock covers no byte of its content */
    HANDLE f = CreateFileA(lock, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, 0, NULL);
    CHECK_MSG(f != INVALID_HANDLE_VALUE, "open %s: error %lu", lock, (unsigned long)GetLastError());
    char content[256];
    DWORD n = 0;
    CHECK_MSG(ReadFile(f, content, sizeof content - 1, &n, NULL) && n > 0, "read: error %lu",
              (unsigned long)GetLastError());
    CloseHandle(f);

    /* the holder lets go: a waiter gets it */
    CloseHandle(h.to_child);
    h.to_child = NULL;
    o.timeout_ms = 10000;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(swl_release(l) == SWL_OK);
    stop_holder(h);
    CHECK(!exists(lock));
}

/* A holder ended by TerminateProcess leaves its lock file; the next acquire takes it over at
 * once (timeout 0). Our handle keeps the dead process's object (and its pid) from reuse, so
 * inspect must judge it by whether it ended, not by whether the pid opens. */
static void test_terminated_holder(void) {
    char file[MAX_PATH], lock[MAX_PATH];
    join(file, "killed.jsonl");
    lock_path_of(lock, file);
    struct holder h = start_holder(file);
    CHECK(TerminateProcess(h.pi.hProcess, 9));
    CHECK(WaitForSingleObject(h.pi.hProcess, 30000) == WAIT_OBJECT_0);
    CHECK(exists(lock));
    char *json = NULL;
    CHECK(swl_inspect(file, &json) == SWL_OK && json != NULL);
    CHECK_MSG(strstr(json, "\"pidAlive\":false"), "%s", json);
    swl_string_free(json);
    swl_options o = options(0);
    swl_lock *l = NULL;
    CHECK_MSG(swl_acquire(file, &o, &l) == SWL_OK, "%s", last_error());
    CHECK(swl_release(l) == SWL_OK);
    CHECK(!exists(lock));
    CloseHandle(h.to_child);
    CloseHandle(h.pi.hProcess);
    CloseHandle(h.pi.hThread);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--hold") == 0) return hold(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_win [--hold SESSION_FILE]\n");
        return 2;
    }
    char temp[MAX_PATH];
    DWORD len = GetTempPathA(sizeof temp, temp);
    CHECK(len > 0 && len < sizeof temp);
    int n = snprintf(root, sizeof root, "%sswl-c-%lu-%llu", temp, (unsigned long)GetCurrentProcessId(),
                     (unsigned long long)GetTickCount64());
    CHECK(n > 0 && n < (int)sizeof root);
    CHECK_MSG(CreateDirectoryA(root, NULL), "mkdir %s: error %lu", root, (unsigned long)GetLastError());

    test_version_and_status_strings();
    test_options();
    test_null_parameters();
    test_bad_input();
    test_acquire_release();
    test_busy_other_process();
    test_terminated_holder();

    /* what the tests left: their (empty) directory and the one they made for basic\ */
    char dir[MAX_PATH];
    join(dir, "basic");
    RemoveDirectoryA(dir);
    RemoveDirectoryA(root);
    check_summary(0);
    return 0;
}
