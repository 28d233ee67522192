/* A tiny test harness for the C suite: CHECK prints file:line and exits non-zero on the first
 * failure; check_summary() prints "N passed, 0 failed". Main thread only. The counter is one
 * for the whole program (check.c), however many files hold its checks. */
#ifndef SWL_CHECK_H
#define SWL_CHECK_H

#include <stdio.h>
#include <stdlib.h>

extern int check_passed;

void check_summary(int failed);

#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        if (cond) {                                                              \
            check_passed++;                                                      \
        } else {                                                                 \
            fflush(stdout);                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n    ", __FILE__, __LINE__, \
                    #cond);                                                      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
            check_summary(1);                                                    \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define CHECK(cond) CHECK_MSG(cond, "(no details)")

#endif
