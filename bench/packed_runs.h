// defines: packed_args, packed_args_parse, packed_config, packed_input, packed_orders,
//          packed_long_offsets, packed_bag_offsets
// What bench/packed (CPU) and bench/packed_cuda (GPU) share, so that the two tables always
// describe the same runs: the command line, the model, the inputs, the scan orders, and the
// long row's and the bags' offsets (the median of the timed steps: bench/timing.h).
// Header-only: each bench is one program.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "bench/timing.h"

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

// The bidirectional stack both benches time: d_model d, d_state N, `layers` layers, K = 2,
// the rest at mamba_ssm's defaults.
static inline mamba_config packed_config(int64_t d, int64_t N, int64_t layers) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = d;
    c.d_state = N;
    c.n_layers = layers;
    c.n_branches = 2;
    return c;
}

// Value i of the fixed inputs (a sawtooth in [-0.5, 0.5); salt tells the arrays apart).
static inline real packed_input(size_t i, unsigned salt) {
    return (real)((double)((i * 7 + salt) % 97) / 97 - 0.5);
}

// {identity, reverse} into perm [2, T]: within each sequence of pk, or of each of B dense
// rows of L when pk is NULL; checked against s (0, or the check's code with e filled).
static inline ssm_code packed_orders(int32_t *perm, mamba_orders *o, const mamba_stack *s,
                                     const ssm_packing *pk, int64_t B, int64_t L, ssm_error *e) {
    const int64_t T = pk ? pk->total : B * L;
    *o = (mamba_orders){.count = 2, .perm = perm};
    if (pk) {
        mamba_order_identity_packed(perm, pk);
        mamba_order_reverse_packed(perm + T, pk);
        return mamba_orders_check_packed(s, o, pk, e);
    }
    mamba_order_identity(perm, B, L);
    mamba_order_reverse(perm + T, B, L);
    return mamba_orders_check(s, o, B, e);
}

// The long row's offsets [n + 1]: n equal sequences of T tokens in all (malloc'd).
static inline int64_t *packed_long_offsets(int64_t T, int64_t n) {
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(n + 1));
    for (int64_t i = 0; off && i <= n; i++)
        off[i] = T * i / n;
    return off;
}

// The bags' offsets [bags + 1] (malloc'd): lengths drawn uniformly from [lo, hi] by a
// seeded LCG, printed as they are drawn, then the padding the longest would cost. The
// longest into *mx.
static inline int64_t *packed_bag_offsets(int64_t bags, int64_t lo, int64_t hi, uint64_t seed,
                                          int64_t *mx) {
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(bags + 1));
    *mx = 0;
    if (!off)
        return NULL;
    uint64_t st = seed;
    off[0] = 0;
    printf("bag lengths (seed %llu):", (unsigned long long)seed);
    for (int64_t i = 0; i < bags; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        int64_t len = lo + (int64_t)((st >> 33) % (uint64_t)(hi - lo + 1));
        off[i + 1] = off[i] + len;
        *mx = len > *mx ? len : *mx;
        printf(" %lld", (long long)len);
    }
    const int64_t T = off[bags];
    printf("; %lld tokens, padded to %lld x %lld = %lld (%.0f%% padding)\n\n", (long long)T,
           (long long)bags, (long long)*mx, (long long)(bags * *mx),
           100.0 * (double)(bags * *mx - T) / (double)(bags * *mx));
    return off;
}
