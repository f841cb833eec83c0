// defines: TOL, TOL_GRAD, TOL_BF16, TOL_BF16_GRAD, gstack, gstack_init, gstack_free,
//          pk_offsets, pk_perm_identity, pk_perm_reverse, pk_perm_shuffle, pk_net_init,
//          pk_result, pk_gpu_packed, pk_result_free, pk_seq_err
// Helpers of the backbone GPU suites (tests/test_cuda_backbone*.c): a GPU stack planned
// over a device parameter mirror; for packed rows, per-sequence scan orders, one packed
// forward + backward on the GPU with everything downloaded, and the error of one sequence.
// Device copies of host bytes: tests/util/cuda_bytes.h. Header-only (each suite is its own
// binary); include only where HAVE_CUDA is 1.
#pragma once
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba_cuda.h"
#include "core/cuda/device.h"
#include "core/packing.h"
#include "kernels/cuda/common.h"
#include "tests/backbone_fixture.h"
#include "tests/util/cuda_bytes.h"

// The bars of the backbone GPU suites, relative errors against the CPU stack: fp32 outputs
// and input gradients, fp32 gradients per parameter tensor; bf16 outputs, bf16 gradients per
// tensor (tests/test_cuda_bf16.c's header argues them).
#define TOL 1e-5
#define TOL_GRAD 5e-5
#define TOL_BF16 1e-2
#define TOL_BF16_GRAD 3e-2

// A stack planned on the GPU for (B_max, L); decl is its own host table (the same layout as
// every other declaration of cfg), which receives gradient downloads. The arena is poisoned
// with NaN bytes, so scratch read before it is written shows.
typedef struct {
    mamba_stack *s;
    ssm_params decl;
    ssm_arena arena;
} gstack;

static inline void gstack_init(gstack *g, const mamba_config *cfg, int64_t B_max, int64_t L) {
    ssm_error e = {0};
    memset(g, 0, sizeof *g);
    ssm_params_init(&g->decl);
    ck_assert_msg(mamba_stack_declare(&g->s, cfg, &g->decl, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(&g->decl, &e) == SSM_OK, "%s", e.msg);
    ssm_arena_init(&g->arena);
    ck_assert_msg(mamba_stack_plan_cuda(g->s, &g->arena, B_max, L, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_arena_commit_cuda(&g->arena, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(mamba_stack_plan_cuda(g->s, &g->arena, B_max, L, &e) == SSM_OK, "%s", e.msg);
    CUDA_CHECK_ABORT(cudaMemset(g->arena.base, 0xFF, g->arena.capacity));
}

static inline void gstack_free(gstack *g) {
    ssm_arena_free_cuda(&g->arena);
    mamba_stack_free(g->s);
    ssm_params_free(&g->decl);
}

// offsets [n + 1] of sequences of the given lengths
static inline int64_t *pk_offsets(const int64_t *lens, int64_t n) {
    int64_t *o = malloc(sizeof(int64_t) * (size_t)(n + 1));
    o[0] = 0;
    for (int64_t i = 0; i < n; i++)
        o[i + 1] = o[i] + lens[i];
    return o;
}

// Orders of a packed row, within each sequence (mamba_order_identity_packed and
// mamba_order_reverse_packed are the CPU room's; these keep the GPU suite independent).
static inline void pk_perm_identity(int32_t *perm, const int64_t *off, int64_t n) {
    for (int64_t t = 0; t < off[n]; t++)
        perm[t] = (int32_t)t;
}
static inline void pk_perm_reverse(int32_t *perm, const int64_t *off, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t t = off[i]; t < off[i + 1]; t++)
            perm[t] = (int32_t)(off[i + 1] - 1 - (t - off[i]));
}
static inline void pk_perm_shuffle(int32_t *perm, const int64_t *off, int64_t n, uint64_t *st) {
    for (int64_t i = 0; i < n; i++) {
        random_perm(perm + off[i], off[i + 1] - off[i], st);
        for (int64_t t = off[i]; t < off[i + 1]; t++)
            perm[t] += (int32_t)off[i];
    }
}

// Declared, initialised and perturbed parameters (no CPU plan: a long row would need a large
// host arena the GPU suites do not use). Free with net_free.
static inline void pk_net_init(net *n, mamba_config cfg, uint64_t seed) {
    memset(n, 0, sizeof *n);
    n->cfg = cfg;
    bb_declare(&n->s, &n->p, &cfg, seed);
    ssm_arena_init(&n->a);
    perturb(n, seed + 1);
}

typedef struct {
    real *out, *din, *grad; // host: [total, D], [total, D], [params total]
} pk_result;

static inline void pk_result_free(pk_result *r) {
    free(r->out);
    free(r->din);
    free(r->grad);
}

// One packed forward + backward on g: out poisoned, din and the gradients from 0. in, dout,
// perm are device arrays; pk carries host and device offsets.
static inline pk_result pk_gpu_packed(gstack *g, ssm_params *dev, const real *in_d,
                                      const real *dout_d, const mamba_orders *od,
                                      const ssm_packing *pk, int64_t D) {
    ssm_error e = {0};
    const size_t nld = (size_t)(pk->total * D), tot = dev->total;
    real *out_d, *din_d;
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc((void **)&out_d, nld * sizeof(real), "test"));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc((void **)&din_d, nld * sizeof(real), "test"));
    CUDA_CHECK_ABORT(cudaMemset(out_d, 0xFF, nld * sizeof(real)));
    CUDA_CHECK_ABORT(cudaMemset(din_d, 0, nld * sizeof(real)));
    CUDA_CHECK_ABORT(cudaMemset(dev->grad, 0, tot * sizeof(real)));
    ck_assert_msg(mamba_stack_forward_packed_cuda(g->s, dev, out_d, in_d, od, pk, &e) == SSM_OK,
                  "packed forward: %s", e.msg);
    ck_assert_msg(mamba_stack_backward_packed_cuda(g->s, dev, din_d, dout_d, od, pk, &e) ==
                      SSM_OK,
                  "packed backward: %s", e.msg);
    pk_result r = {malloc(nld * sizeof(real)), malloc(nld * sizeof(real)),
                   malloc(tot * sizeof(real))};
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(r.out, out_d, nld * sizeof(real)));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(r.din, din_d, nld * sizeof(real)));
    ck_assert_msg(ssm_params_cuda_download(&g->decl, dev, 1, &e) == SSM_OK, "%s", e.msg);
    memcpy(r.grad, g->decl.grad, tot * sizeof(real));
    ssm_cuda_free(out_d);
    ssm_cuda_free(din_d);
    return r;
}

// Norm-wise relative error of sequence i's rows [off[i], off[i+1]) of two [total, D] arrays;
// any NaN in a gives infinity.
static inline double pk_seq_err(const real *a, const real *ref, const int64_t *off, int64_t i,
                         int64_t D) {
    const size_t b = (size_t)(off[i] * D), m = (size_t)((off[i + 1] - off[i]) * D);
    double e = tu_rel_err(a + b, ref + b, m);
    for (size_t j = 0; j < m; j++)
        if (isnan(a[b + j]))
            return INFINITY;
    return e;
}
