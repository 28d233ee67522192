/* The victim of the crash-point and error-injection suite (tests/faultinject/): one acquire and
 * one release of argv[1] (one try, no waiting), between two marker system calls
 * (access("/swl-faultinject-begin"), access("/swl-faultinject-end")) that tell the driver which
 * system calls are the library's. First it prints "ready" and waits for stdin to be readable
 * (the driver attaches strace meanwhile), then prints "begin". Exit 0: done; 2: a clean error
 * (status and swl_last_error on stderr); 3: SWL_PANIC; 4: busy. After the end marker it prints
 * "end" and waits for stdin again before exiting: the driver lets it go once the lock service
 * thread sleeps, so that the service's calls are the same in every run, not cut short by the
 * exit at a point that depends on timing. With argv[2] = "fresh" it neither waits nor marks:
 * the check that a fresh process acquires at once. */
#include "session_write_lock.h"

#include <stdio.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *step, swl_status status) {
    char message[4096];
    swl_last_error(message, sizeof message);
    fprintf(stderr, "error %s %s: %s\n", step, swl_status_str(status), message);
    if (status == SWL_PANIC) return 3;
    return status == SWL_BUSY ? 4 : 2;
}

/* Waits until stdin has a byte (or its end) to read, and reads it. select() and readv(), calls
 * the library never makes: an injection at its k-th read() must not hit these. */
static int await_stdin(void) {
    fd_set in;
    FD_ZERO(&in);
    FD_SET(0, &in);
    if (select(1, &in, NULL, NULL, NULL) != 1) return 0;
    char byte;
    struct iovec one = {&byte, 1};
    return readv(0, &one, 1) >= 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SESSION_FILE [fresh]\n", argv[0]);
        return 64;
    }
    int markers = !(argc > 2 && strcmp(argv[2], "fresh") == 0);
    swl_options options;
    swl_options_init(&options);
    options.timeout_ms = 0;
    if (markers) {
        printf("ready\n");
        fflush(stdout);
        if (!await_stdin()) return 64;
        printf("begin\n");
        fflush(stdout);
        (void)access("/swl-faultinject-begin", F_OK);
    }
    swl_lock *lock = NULL;
    swl_status status = swl_acquire(argv[1], &options, &lock);
    if (status != SWL_OK) return fail("acquire", status);
    status = swl_release(lock);
    if (markers) {
        (void)access("/swl-faultinject-end", F_OK);
        printf("end\n");
        fflush(stdout);
        (void)await_stdin();
    }
    if (status != SWL_OK) return fail("release", status);
    puts("ok");
    return 0;
}
