// defines: main (benchmark of packed (ragged) batches through the GPU backbone)
// The CUDA twin of bench/packed.c (same measurements, same table), on one GPU with
// backbone/mamba_cuda.h (fp32): training steps (forward + backward with d input, no
// optimizer) of a bidirectional stack ({identity, reverse} within each sequence, Vim's v2
// layout):
//
//  long: one packed row of -long tokens (default 100,000: one sequence, or -long-n equal
//        sequences), planned for (1, -long): the device arena, the device memory in use
//        after the steps (cudaMemGetInfo: the arena, parameters, inputs and the CUDA
//        context) and the time per step.
//  bags: -bags sequences with lengths drawn uniformly from [-min, -max] (seeded, the same
//        generator and lengths as bench/packed.c), run
//        (a) padded to the longest, B = bags, L = max(len), planned for (bags, max),
//        (b) packed into one row of sum(len) tokens, planned for (1, sum), and
//        (c) packed on the padded run's plan (bags, max) (the token budget rule: a dense
//        plan takes a packed row of up to B_max * L tokens).
//        Tokens/s count the real tokens (sum of lengths) in every row, so padding is paid
//        for, not counted.
// Every figure: -warmup untimed steps, then -iters timed ones, each between two CUDA events;
// min and median per step. Inputs and parameters are mamba_ssm's init and fixed pseudo-random
// values, never zeros. Prints markdown table rows. Built only with CUDA=1:
//   build-cuda/bench/packed_cuda [-d 128] [-N 16] [-layers 2] [-long 100000] [-long-n 1]
//        [-bags 8] [-min 100] [-max 4000] [-seed 1] [-warmup 3] [-iters 20] [-no-long]
//        [-no-bags]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/packed_runs.h"

#ifdef SSM_CUDA
#include <cuda_runtime_api.h>

#include "backbone/mamba.h"
#include "backbone/mamba_cuda.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"

#define CK(x) SSM_CUDA_ABORT_ON_ERROR(x)

typedef struct {
    double min_s, med_s; // per step
    size_t arena_bytes;
} timing;

static void die(const char *what, const ssm_error *e) {
    fprintf(stderr, "packed_cuda: %s: %s\n", what, e->msg);
    exit(1);
}

static double used_mib(void) {
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK_ABORT(cudaMemGetInfo(&free_b, &total_b));
    return (double)(total_b - free_b) / 1048576.0;
}

typedef struct {
    mamba_stack *s;
    ssm_params p, dev;
    ssm_arena a;
} model;

static void model_init(model *m, int64_t d, int64_t N, int64_t layers, int64_t B_max, int64_t L) {
    const mamba_config c = packed_config(d, N, layers);
    ssm_error e = {0};
    ssm_params_init(&m->p);
    ssm_arena_init(&m->a);
    ssm_rng rng;
    if (mamba_stack_declare(&m->s, &c, &m->p, "", &e) || ssm_params_finalize(&m->p, &e) ||
        ssm_rng_init(&rng, 1, &e))
        die("declare", &e);
    mamba_stack_init_params(m->s, &m->p, &rng);
    ssm_rng_free(&rng);
    if (ssm_params_cuda_mirror(&m->dev, &m->p, &e) || mamba_stack_plan_cuda(m->s, &m->a, B_max, L, &e) ||
        ssm_arena_commit_cuda(&m->a, &e) || mamba_stack_plan_cuda(m->s, &m->a, B_max, L, &e))
        die("plan", &e);
}

static void model_free(model *m) {
    ssm_arena_free_cuda(&m->a);
    ssm_params_cuda_free(&m->dev);
    mamba_stack_free(m->s);
    ssm_params_free(&m->p);
}

// n values on the device, as bench/packed.c's inputs (a fixed sawtooth in [-0.5, 0.5)).
static real *dev_inputs(size_t n, unsigned salt) {
    real *h = malloc(n * sizeof(real)), *d;
    if (!h) {
        fprintf(stderr, "packed_cuda: out of memory (%zu reals)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        h[i] = packed_input(i, salt);
    CK(ssm_cuda_alloc((void **)&d, n * sizeof(real), "bench"));
    CK(ssm_cuda_upload(d, h, n * sizeof(real)));
    free(h);
    return d;
}

// Steps of the model m: packed (pk, host offsets; its device copy is made here) or dense (B
// samples of the plan's L).
static void time_steps(timing *t, model *m, const ssm_packing *pk_host, int64_t B, int64_t L,
                       int64_t D, int warmup, int iters) {
    const int64_t T = pk_host ? pk_host->total : B * L;
    const size_t n = (size_t)(T * D);
    real *in = dev_inputs(n, 1), *dout = dev_inputs(n, 2), *out, *din;
    CK(ssm_cuda_alloc((void **)&out, n * sizeof(real), "bench"));
    CK(ssm_cuda_alloc((void **)&din, n * sizeof(real), "bench"));
    int32_t *perm = malloc(sizeof(int32_t) * 2 * (size_t)T), *perm_d;
    mamba_orders o;
    ssm_packing pk = {0};
    int64_t *off_d = NULL;
    ssm_error e = {0};
    // the orders are checked on the host, then run from the device
    ssm_code rc = packed_orders(perm, &o, m->s, pk_host, B, L, &e);
    if (rc)
        die("orders", &e);
    if (pk_host) {
        pk = *pk_host;
        CK(ssm_cuda_alloc((void **)&off_d, sizeof(int64_t) * (size_t)(pk.n + 1), "bench"));
        CK(ssm_cuda_upload(off_d, pk.offsets, sizeof(int64_t) * (size_t)(pk.n + 1)));
        pk.d_offsets = off_d;
    }
    CK(ssm_cuda_alloc((void **)&perm_d, sizeof(int32_t) * 2 * (size_t)T, "bench"));
    CK(ssm_cuda_upload(perm_d, perm, sizeof(int32_t) * 2 * (size_t)T));
    o.perm = perm_d;
    cudaEvent_t a, b;
    CUDA_CHECK_ABORT(cudaEventCreate(&a));
    CUDA_CHECK_ABORT(cudaEventCreate(&b));
    double *ts = malloc(sizeof(double) * (size_t)iters);
    for (int i = 0; i < warmup + iters; i++) {
        CUDA_CHECK_ABORT(cudaEventRecord(a, 0));
        if (pk_host) {
            rc = mamba_stack_forward_packed_cuda(m->s, &m->dev, out, in, &o, &pk, &e);
            if (rc == SSM_OK)
                rc = mamba_stack_backward_packed_cuda(m->s, &m->dev, din, dout, &o, &pk, &e);
        } else {
            rc = mamba_stack_forward_cuda(m->s, &m->dev, out, in, &o, B, &e);
            if (rc == SSM_OK)
                rc = mamba_stack_backward_cuda(m->s, &m->dev, din, dout, &o, B, &e);
        }
        if (rc)
            die(pk_host ? "packed step" : "padded step", &e);
        CUDA_CHECK_ABORT(cudaEventRecord(b, 0));
        CUDA_CHECK_ABORT(cudaEventSynchronize(b));
        if (i >= warmup) {
            float ms;
            CUDA_CHECK_ABORT(cudaEventElapsedTime(&ms, a, b));
            ts[i - warmup] = 1e-3 * ms;
        }
    }
    t->med_s = bench_median(ts, iters); // sorts ts
    t->min_s = ts[0];
    t->arena_bytes = m->a.capacity;
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    free(ts), free(perm);
    ssm_cuda_free(in), ssm_cuda_free(dout), ssm_cuda_free(out), ssm_cuda_free(din);
    ssm_cuda_free(perm_d), ssm_cuda_free(off_d);
}

int main(int argc, char **argv) {
    packed_args A = {.warmup = 3, .iters = 20};
    if (packed_args_parse(&A, argc, argv, "packed_cuda"))
        return 2;
    const int64_t d = A.d, N = A.N, layers = A.layers, long_T = A.long_T, long_n = A.long_n;
    const int64_t bags = A.bags, lo = A.lo, hi = A.hi;
    const uint64_t seed = A.seed;
    const int warmup = A.warmup, iters = A.iters, do_long = A.do_long, do_bags = A.do_bags;
    if (ssm_cuda_device_count() == 0) {
        printf("packed_cuda: no CUDA device\n");
        return 0;
    }
    struct cudaDeviceProp prop;
    CUDA_CHECK_ABORT(cudaGetDeviceProperties(&prop, 0));
    printf("packed batches, GPU backbone (%s, fp32): d_model %lld, d_state %lld, %lld layers, "
           "bidirectional (K=2), expand 2, d_conv 4, scan_chunk 64; warmup %d, %d timed steps "
           "(CUDA events)\n\n",
           prop.name, (long long)d, (long long)N, (long long)layers, warmup, iters);

    if (do_long) {
        int64_t *off = packed_long_offsets(long_T, long_n);
        ssm_packing pk = {.n = long_n, .total = long_T, .offsets = off};
        model m;
        timing t;
        model_init(&m, d, N, layers, 1, long_T);
        time_steps(&t, &m, &pk, 1, long_T, d, warmup, iters);
        printf("| long row | tokens | sequences | arena MiB | device MiB in use | step min s | "
               "step median s | tokens/s |\n|---|---|---|---|---|---|---|---|\n");
        printf("| plan (1, %lld) | %lld | %lld | %.0f | %.0f | %.4f | %.4f | %.0f |\n\n",
               (long long)long_T, (long long)long_T, (long long)long_n,
               t.arena_bytes / 1048576.0, used_mib(), t.min_s, t.med_s,
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
               "step median s | real tokens/s | vs padded |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
        timing tp, td, tq;
        model m;
        // padded first, so its tokens/s is known to the other rows
        model_init(&m, d, N, layers, bags, mx);
        time_steps(&td, &m, NULL, bags, mx, d, warmup, iters);
        time_steps(&tq, &m, &pk, 1, T, d, warmup, iters);
        model_free(&m);
        model_init(&m, d, N, layers, 1, T);
        time_steps(&tp, &m, &pk, 1, T, d, warmup, iters);
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
            printf("| %lld in %lld..%lld | %s | (%lld, %lld) | %lld | %.0f | %.5f | %.5f | %.0f "
                   "| %.2fx |\n",
                   (long long)bags, (long long)lo, (long long)hi, rows[r].run, (long long)rows[r].B,
                   (long long)rows[r].L, (long long)rows[r].computed,
                   rows[r].t->arena_bytes / 1048576.0, rows[r].t->min_s, rows[r].t->med_s, rate,
                   rate / pad_rate);
        }
        free(off);
    }
    return 0;
}
#else
int main(void) {
    printf("packed_cuda: built without CUDA (make CUDA=1)\n");
    return 0;
}
#endif
