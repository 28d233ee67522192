#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank, as node/stats.mjs: the smallest sample with at least percent% of the samples
 * at or below it. Integer arithmetic, so both agree exactly. */
static uint64_t nearest_rank(const uint64_t *sorted, long n, long percent)
{
    long rank = (percent * n + 99) / 100;
    return sorted[rank > 0 ? rank - 1 : 0];
}

static int cycle(const struct bench_impl *impl, const char *lock_path)
{
    int status = impl->acquire(lock_path);
    const char *step = "acquire";
    if (status == 0) {
        status = impl->release(lock_path);
        step = "release";
    }
    if (status != 0)
        fprintf(stderr, "%s: %s of %s failed (status %d): %s\n", impl->name, step, lock_path,
                status, strerror(errno));
    return status;
}

int bench_main(int argc, char **argv, const struct bench_impl *impl)
{
    char *end = NULL;
    long iterations = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 3 || *end != '\0' || iterations < 1 || iterations > INT_MAX) {
        fprintf(stderr, "usage: %s <dir> <iterations>\n", argv[0]);
        return 2;
    }
    char lock_path[PATH_MAX];
    if (snprintf(lock_path, sizeof lock_path, "%s/s.jsonl.lock", argv[1]) >= (int)sizeof lock_path) {
        fprintf(stderr, "%s: directory path too long\n", impl->name);
        return 2;
    }
    if (impl->init && impl->init(lock_path) != 0) {
        fprintf(stderr, "%s: setup failed: %s\n", impl->name, strerror(errno));
        return 1;
    }
    uint64_t *samples = malloc((size_t)iterations * sizeof *samples);
    if (!samples) {
        perror("malloc");
        return 1;
    }

    /* Warm-up: page cache, dentries, lazily loaded code. */
    long warmup = iterations / 10 > 100 ? iterations / 10 : 100;
    for (long i = 0; i < warmup; i++)
        if (cycle(impl, lock_path) != 0)
            return 1;
    for (long i = 0; i < iterations; i++) {
        uint64_t start = now_ns();
        if (cycle(impl, lock_path) != 0)
            return 1;
        samples[i] = now_ns() - start;
    }

    qsort(samples, (size_t)iterations, sizeof *samples, compare_u64);
    printf("{\"impl\":\"%s\",\"iterations\":%ld,\"median_ns_per_cycle\":%" PRIu64
           ",\"p99_ns\":%" PRIu64 "}\n",
           impl->name, iterations, nearest_rank(samples, iterations, 50),
           nearest_rank(samples, iterations, 99));
    free(samples);
    return 0;
}
