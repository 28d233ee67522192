/* A lock holder in another process, for the busy tests: acquires argv[1], prints "held" on
 * stdout, waits until stdin reaches EOF (or a signal ends it), then releases and exits 0. */
#include "session_write_lock.h"

#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: holder SESSION_FILE\n");
        return 2;
    }
    swl_options opts;
    swl_options_init(&opts);
    swl_lock *lock = NULL;
    swl_status status = swl_acquire(argv[1], &opts, &lock);
    if (status != SWL_OK) {
        char message[512];
        swl_last_error(message, sizeof message);
        fprintf(stderr, "holder: acquire failed: %s: %s\n", swl_status_str(status), message);
        return 3;
    }
    printf("held\n");
    fflush(stdout);
    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
    status = swl_release(lock);
    if (status != SWL_OK) {
        fprintf(stderr, "holder: release failed: %s\n", swl_status_str(status));
        return 4;
    }
    return 0;
}
