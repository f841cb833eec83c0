// defines: main (benchmark of packed (ragged) batches through the CPU backbone)
// Two measurements of training steps (forward + backward with d input, no optimizer) of a
// bidirectional stack ({identity, reverse} within each sequence, Vim's v2 layout):
//
//  long: one packed row of -long tokens (default 100,000: one sequence, or -long-n equal
//        sequences), planned for (1, -long): prints the arena bytes, the process's peak
//        resident memory and the time per step. The plan holds every activation of the
//        step, so memory is linear in the tokens (the scan keeps checkpoints every
//        scan_chunk steps, not every state).
//  bags: -bags sequences with lengths drawn uniformly from [-min, -max] (seeded), run
//        (a) packed into one row of sum(len) tokens, planned for (1, sum) and
//        (b) padded to the longest, B = bags, L = max(len), planned for (bags, max),
//        and (c) packed on the padded run's plan (bags, max) (the token budget rule of
//        backbone/mamba.h: a dense plan takes a packed row of up to B_max * L tokens).
//        Tokens/s count the real tokens (sum of lengths) in every row, so padding is
//        paid for, not counted.
// Every figure: `warmup` untimed steps, then `iters` timed ones one by one; min and median
// wall time per step, and the process CPU time per step (all threads; the figure other
// jobs on a shared machine disturb least). Prints markdown table rows.
//
// usage: packed [-d 128] [-N 16] [-layers 2] [-long 100000] [-long-n 1] [-bags 8]
//               [-min 100] [-max 4000] [-seed 1] [-warmup 1] [-iters 3] [-no-long] [-no-bags]
//
// Threads: as bench/backbone.c, re-executes itself with OMP_WAIT_POLICY=passive unless
// the variable is set (idle OpenMP workers would otherwise spin through every GEMM).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backbone/mamba.h"
#include "bench/packed_runs.h"
#include "bench/timing.h"
#include "kernels/cpu_dispatch.h"

typedef struct {
    double min_s, med_s, cpu_s; // per step
    size_t arena_bytes;
} timing;

typedef struct {
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
} model;

static int model_init(model *m, int64_t d, int64_t N, int64_t layers, int64_t B_max, int64_t L) {
    const mamba_config c = packed_config(d, N, layers);
    ssm_error e = {0};
    ssm_params_init(&m->p);
    ssm_arena_init(&m->a);
    ssm_rng rng;
    if (mamba_stack_declare(&m->s, &c, &m->p, "", &e) || ssm_params_finalize(&m->p, &e) ||
        ssm_rng_init(&rng, 1, &e) || mamba_stack_plan(m->s, &m->a, B_max, L, &e) ||
        ssm_arena_commit(&m->a, &e) || mamba_stack_plan(m->s, &m->a, B_max, L, &e)) {
        fprintf(stderr, "packed: %s\n", e.msg);
        return 1;
    }
    mamba_stack_init_params(m->s, &m->p, &rng);
    ssm_rng_free(&rng);
    return 0;
}

static void model_free(model *m) {
    mamba_stack_free(m->s);
    ssm_params_free(&m->p);
    ssm_arena_free(&m->a);
}

static real *inputs(size_t n, unsigned salt) {
    real *x = malloc(n * sizeof(real));
    if (!x) {
        fprintf(stderr, "packed: out of memory (%zu reals)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = packed_input(i, salt);
    return x;
}

// Steps of the model m: packed (pk) or dense (B samples of the plan's L).
static int time_steps(timing *t, model *m, const ssm_packing *pk, int64_t B, int64_t L, int64_t D,
                      int warmup, int iters) {
    const int64_t T = pk ? pk->total : B * L;
    const size_t n = (size_t)(T * D);
    real *in = inputs(n, 1), *dout = inputs(n, 2), *out = malloc(n * sizeof(real));
    real *din = calloc(n, sizeof(real));
    int32_t *perm = malloc(sizeof(int32_t) * 2 * (size_t)T);
    if (!out || !din || !perm) {
        fprintf(stderr, "packed: out of memory\n");
        return 1;
    }
    mamba_orders o;
    ssm_error e = {0};
    if (packed_orders(perm, &o, m->s, pk, B, L, &e)) {
        fprintf(stderr, "packed: %s\n", e.msg);
        return 1;
    }
    double *ts = malloc(sizeof(double) * (size_t)iters), c0 = 0;
    for (int i = 0; i < warmup + iters; i++) {
        if (i == warmup)
            c0 = bench_cpu_seconds();
        const double t0 = omp_get_wtime();
        if (pk) {
            mamba_stack_forward_packed(m->s, &m->p, out, in, &o, pk);
            mamba_stack_backward_packed(m->s, &m->p, din, dout, &o, pk);
        } else {
            mamba_stack_forward(m->s, &m->p, out, in, &o, B);
            mamba_stack_backward(m->s, &m->p, din, dout, &o, B);
        }
        if (i >= warmup)
            ts[i - warmup] = omp_get_wtime() - t0;
    }
    t->cpu_s = (bench_cpu_seconds() - c0) / iters;
    t->med_s = bench_median(ts, iters); // sorts ts
    t->min_s = ts[0];
    t->arena_bytes = m->a.peak;
    free(ts), free(in), free(dout), free(out), free(din), free(perm);
    return 0;
}

int main(int argc, char **argv) {
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv); // returns only on failure: run with the default policy
    }
    packed_args A = {.warmup = 1, .iters = 3};
    if (packed_args_parse(&A, argc, argv, "packed"))
        return 2;
    const int64_t d = A.d, N = A.N, layers = A.layers, long_T = A.long_T, long_n = A.long_n;
    const int64_t bags = A.bags, lo = A.lo, hi = A.hi;
    const uint64_t seed = A.seed;
    const int warmup = A.warmup, iters = A.iters, do_long = A.do_long, do_bags = A.do_bags;
    char variant[256];
    ssm_cpu_describe(variant, sizeof variant);
    printf("packed batches, CPU backbone: d_model %lld, d_state %lld, %lld layers, bidirectional "
           "(K=2), expand 2, d_conv 4, scan_chunk 64; %d threads (OMP_WAIT_POLICY=%s); kernels %s; "
           "warmup %d, %d timed steps\n\n",
           (long long)d, (long long)N, (long long)layers, omp_get_max_threads(),
           getenv("OMP_WAIT_POLICY"), variant, warmup, iters);

    if (do_long) {
        int64_t *off = packed_long_offsets(long_T, long_n);
        ssm_packing pk = {.n = long_n, .total = long_T, .offsets = off};
        model m;
        timing t;
        if (model_init(&m, d, N, layers, 1, long_T) ||
            time_steps(&t, &m, &pk, 1, long_T, d, warmup, iters))
            return 1;
        printf("| long row | tokens | sequences | arena MiB | peak RSS MiB | step min s | step median s "
               "| cpu s/step | tokens/s |\n|---|---|---|---|---|---|---|---|---|\n");
        printf("| plan (1, %lld) | %lld | %lld | %.0f | %.0f | %.2f | %.2f | %.2f | %.0f |\n\n",
               (long long)long_T, (long long)long_T, (long long)long_n,
               t.arena_bytes / 1048576.0, bench_peak_rss_mib(), t.min_s, t.med_s, t.cpu_s,
               (double)long_T / t.med_s);
        printf("arena bytes: %zu\n\n", t.arena_bytes);
        fflush(stdout);
        model_free(&m);
        free(off);
    }

    if (do_bags) {
        int64_t mx = 0;
        int64_t *off = packed_bag_offsets(bags, lo, hi, seed, &mx);
        const int64_t T = off[bags];
        ssm_packing pk = {.n = bags, .total = T, .offsets = off};
        printf("| bags | run | plan (B_max, L) | tokens computed | arena MiB | step min s | "
               "step median s | cpu s/step | real tokens/s | vs padded |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n");
        timing tp, td, tq;
        model m;
        // padded first, so its tokens/s is known to the other rows
        if (model_init(&m, d, N, layers, bags, mx) ||
            time_steps(&td, &m, NULL, bags, mx, d, warmup, iters) ||
            time_steps(&tq, &m, &pk, 1, T, d, warmup, iters))
            return 1;
        model_free(&m);
        if (model_init(&m, d, N, layers, 1, T) || time_steps(&tp, &m, &pk, 1, T, d, warmup, iters))
            return 1;
        model_free(&m);
        const double pad_rate = (double)T / td.med_s;
        const struct {
            const char *run;
            int64_t B, L, computed;
            const timing *t;
        } rows[] = {{"padded to the longest", bags, mx, bags * mx, &td},
                    {"packed", 1, T, T, &tp},
                    {"packed on the padded plan", bags, mx, T, &tq}};
        for (int r = 0; r < 3; r++) {
            const double rate = (double)T / rows[r].t->med_s;
            printf("| %lld in %lld..%lld | %s | (%lld, %lld) | %lld | %.0f | %.3f | %.3f | %.3f | %.0f "
                   "| %.2fx |\n",
                   (long long)bags, (long long)lo, (long long)hi, rows[r].run, (long long)rows[r].B,
                   (long long)rows[r].L, (long long)rows[r].computed,
                   rows[r].t->arena_bytes / 1048576.0, rows[r].t->min_s, rows[r].t->med_s,
                   rows[r].t->cpu_s, rate, rate / pad_rate);
        }
        free(off);
    }
    return 0;
}
