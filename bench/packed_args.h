// defines: packed_args, packed_args_parse
// The command line bench/packed (CPU) and bench/packed_cuda (GPU) share, so that the two
// tables always describe the same runs. Header-only: each bench is one program.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t d, N, layers, long_T, long_n, bags, lo, hi;
    uint64_t seed;
    int warmup, iters, do_long, do_bags;
} packed_args;

// Fills a (its warmup / iters preset by the caller, the rest defaulted here) from argv;
// prints the usage and returns 2 on a bad line, else 0.
static inline int packed_args_parse(packed_args *a, int argc, char **argv, const char *name) {
    a->d = 128, a->N = 16, a->layers = 2, a->long_T = 100000, a->long_n = 1, a->bags = 8;
    a->lo = 100, a->hi = 4000, a->seed = 1, a->do_long = 1, a->do_bags = 1;
    int64_t *ints[] = {&a->d, &a->N, &a->layers, &a->long_T, &a->long_n, &a->bags, &a->lo, &a->hi};
    const char *names[] = {"-d", "-N", "-layers", "-long", "-long-n", "-bags", "-min", "-max"};
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        const int more = i + 1 < argc;
        int k = 0;
        while (k < 8 && strcmp(s, names[k]))
            k++;
        if (k < 8 && more)
            *ints[k] = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(s, "-seed") && more)
            a->seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(s, "-warmup") && more)
            a->warmup = atoi(argv[++i]);
        else if (!strcmp(s, "-iters") && more)
            a->iters = atoi(argv[++i]);
        else if (!strcmp(s, "-no-long"))
            a->do_long = 0;
        else if (!strcmp(s, "-no-bags"))
            a->do_bags = 0;
        else {
            fprintf(stderr, "usage: %s [-d 128] [-N 16] [-layers 2] [-long 100000] [-long-n 1] "
                            "[-bags 8] [-min 100] [-max 4000] [-seed 1] [-warmup %d] [-iters %d] "
                            "[-no-long] [-no-bags]\n", argv[0], a->warmup, a->iters);
            return 2;
        }
    }
    if (a->iters < 1 || a->warmup < 0 || a->long_n < 1 || a->long_n > a->long_T || a->bags < 1 ||
        a->lo < 1 || a->hi < a->lo) {
        fprintf(stderr, "%s: need iters >= 1, warmup >= 0, 1 <= long-n <= long, bags >= 1, "
                        "1 <= min <= max\n", name);
        return 2;
    }
    return 0;
}
