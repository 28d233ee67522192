/* Driver shared by the C cycle benchmarks: each program supplies how to take and drop the lock,
 * the driver parses `<dir> <iterations>`, times every cycle and prints one JSON line. */
#ifndef BENCH_H
#define BENCH_H

struct bench_impl {
    const char *name;
    /* Called once before the cycles; may be NULL. Returns 0 on success. */
    int (*init)(const char *lock_path);
    /* Return 0 on success; otherwise a nonzero status, with errno set where it says more. */
    int (*acquire)(const char *lock_path);
    int (*release)(const char *lock_path);
};

/* Runs the benchmark on `<dir>/s.jsonl.lock`; returns the process exit status. */
int bench_main(int argc, char **argv, const struct bench_impl *impl);

#endif
