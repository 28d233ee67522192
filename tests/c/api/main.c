/* The C API of session-write-lock, end to end: run as `test_api HOLDER_BINARY`, where
 * HOLDER_BINARY is tests/c/holder.c built against the same library (shared or static).
 * Prints "N passed, 0 failed" and exits 0, or stops at the first failed CHECK. */
#include "api.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
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
