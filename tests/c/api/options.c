/* The version, the status strings and swl_options: defaults, the environment, older sizes. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_version_and_status_strings(void) {
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

void test_options_defaults(void) {
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
void test_options_old_size(void) {
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
