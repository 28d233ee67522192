/* The helpers the files of the C API tests share, and the run's state main.c sets (api.h). */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *holder_binary;
char root[PATH_MAX];
char errbuf[4096];

const char *last_error(void) {
    swl_last_error(errbuf, sizeof errbuf);
    return errbuf;
}

void join(char *out, const char *name) {
    int n = snprintf(out, PATH_MAX, "%s/%s", root, name);
    CHECK_MSG(n > 0 && n < PATH_MAX, "path too long: %s", name);
}

void lock_path_of(char *out, const char *session_file) {
    int n = snprintf(out, PATH_MAX, "%s.lock", session_file);
    CHECK(n > 0 && n < PATH_MAX);
}

int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

swl_options options(int64_t timeout_ms, bool reentrant) {
    swl_options o;
    swl_options_init(&o);
    o.timeout_ms = timeout_ms;
    o.allow_reentrant = reentrant;
    return o;
}

void write_file(const char *path, const char *content) {
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "fopen %s: %s", path, strerror(errno));
    CHECK(fputs(content, f) >= 0);
    CHECK(fclose(f) == 0);
}

void read_file(const char *path, char *out, size_t len) {
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "fopen %s: %s", path, strerror(errno));
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
}

int is_lower_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[n] == '\0';
}
