/* The C API tests (tests/c/api/) are one program in several files: one per subject, each
 * file's tests declared here and run by main.c in a fixed order, with helpers.c's helpers. */
#ifndef SWL_API_TESTS_H
#define SWL_API_TESTS_H

#include "session_write_lock.h"

#include "../check.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The run's state, set by main before any test. */
extern const char *holder_binary; /* tests/c/holder.c, built against the same library */
extern char root[PATH_MAX];       /* the run's temporary directory, its real path */
extern char errbuf[4096];         /* what last_error() last read */

/* ---- helpers.c -------------------------------------------------------------------------- */

/* The last error of this thread, in errbuf (main thread only). */
const char *last_error(void);
/* `out` (PATH_MAX bytes) = root/name. */
void join(char *out, const char *name);
/* `out` (PATH_MAX bytes) = the lock file of `session_file`. */
void lock_path_of(char *out, const char *session_file);
int exists(const char *path);
double now_ms(void);
void sleep_ms(long ms);
swl_options options(int64_t timeout_ms, bool reentrant);
void write_file(const char *path, const char *content);
void read_file(const char *path, char *out, size_t len);
int is_lower_hex(const char *s, size_t n);

/* ---- options.c -------------------------------------------------------------------------- */
void test_version_and_status_strings(void);
void test_options_defaults(void);
void test_options_old_size(void);

/* ---- arguments.c ------------------------------------------------------------------------ */
void test_null_parameters(void);
void test_invalid_arguments(void);
void test_io_error(void);
void test_buffers(void);
void test_extreme_values(void);
void test_directory_paths(void);

/* ---- locking.c -------------------------------------------------------------------------- */
void test_acquire_release(void);
void test_busy_other_process(void);
void test_reentrancy(void);
void test_release_all_and_nonce(void);
void test_owner_held_locks_and_assert_owned(void);
void test_report_only_stale(void);
void test_threads(void);

/* ---- files.c ---------------------------------------------------------------------------- */
void test_stale_legacy(void);
void test_foreign_files(void);
void test_hostile_files(void);
void test_clean_stale(void);
void test_clean_crashed_writers_temp_files(void);

/* ---- processes.c ------------------------------------------------------------------------ */
void test_watchdog_log_callback(void);
void test_fork_child_holds_nothing(void);
void test_fork_nonces(void);

#endif
