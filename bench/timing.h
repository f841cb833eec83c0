// defines: bench_now, bench_cpu_seconds, bench_peak_rss_mib, bench_cmp_double, bench_median
// The clocks and statistics the CPU benchmarks share: wall and process CPU time, the peak
// resident memory, and the median of the timed repetitions. Header-only: each bench is one
// program.
#pragma once
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

// Wall-clock seconds (monotonic).
static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// CPU seconds of the whole process (every thread).
static inline double bench_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// The process's peak resident memory in MiB.
static inline double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; // kilobytes on Linux
}

// qsort's ascending order of doubles.
static inline int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The median of v[0..n), sorted in place (so v[0] is then the minimum).
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
