// defines: twin_adapters, twin_heads, twin_mirror, twin_plan_adapters, twin_plan_heads,
//          twin_free, twin_grads_agree, twin_model_step, twin_loss_agrees, twin_outputs_agree,
//          twin_model_step_deterministic
// The CPU-against-GPU twin checks of layers and whole models (tests/test_cuda_*.c): the same
// parameters (and random starting gradients) on both devices, both planned, the gradients
// compared tensor by tensor, one training step of a model built for each device. Include
// only where HAVE_CUDA is 1.
#pragma once
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "tasks/head_registry.h"
#include "tasks/model.h"
#include "tests/util/testutil.h"

// The adapter `name` twice: a on the fresh table p (finalised) for the CPU, ga for the GPU
// (its own scratch; the fresh table p2 only holds the same layout). a must have a CUDA path.
static inline void twin_adapters(ssm_adapter **a, ssm_params *p, ssm_adapter **ga, ssm_params *p2,
                                 const char *name, const ssm_adapter_options *o,
                                 const ssm_input_shape *in, int64_t D) {
    ssm_error e = {0};
    ssm_params_init(p);
    ssm_params_init(p2);
    ck_assert_msg(ssm_adapter_create(a, name, o, in, D, p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_adapter_create(ga, name, o, in, D, p2, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_adapter_has_cuda(*a));
    ck_assert_int_eq(ssm_params_finalize(p, &e), SSM_OK);
}

// The same for the head `name`: h on p, gh on p2.
static inline void twin_heads(ssm_head **h, ssm_params *p, ssm_head **gh, ssm_params *p2,
                              const char *name, const ssm_head_options *o,
                              const ssm_head_input *in) {
    ssm_error e = {0};
    ssm_params_init(p);
    ssm_params_init(p2);
    ck_assert_msg(ssm_head_create(h, name, o, in, p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_head_create(gh, name, o, in, p2, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_head_has_cuda(*h));
    ck_assert_int_eq(ssm_params_finalize(p, &e), SSM_OK);
}

// dp: a device mirror of p's values, with p's gradient uploaded too (a backward must add
// onto it).
static inline void twin_mirror(ssm_params *dp, const ssm_params *p) {
    ssm_error e = {0};
    ck_assert_msg(ssm_params_cuda_mirror(dp, p, &e) == SSM_OK, "%s", e.msg);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(dp->grad, p->grad, p->total * sizeof(real)));
}

// The CPU adapter a on the fresh host arena ha and its GPU twin ga on the fresh device arena
// da, each planned for B: measure, commit, hand out.
static inline void twin_plan_adapters(ssm_adapter *a, ssm_arena *ha, ssm_adapter *ga,
                                      ssm_arena *da, int64_t B) {
    ssm_error e = {0};
    ssm_arena_init(ha);
    ssm_arena_init(da);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert(ssm_adapter_plan(a, ha, B, &e) == SSM_OK);
        ck_assert_msg(ssm_adapter_plan_cuda(ga, da, B, &e) == SSM_OK, "%s", e.msg);
        if (pass == 0) {
            ck_assert(ssm_arena_commit(ha, &e) == SSM_OK);
            ck_assert(ssm_arena_commit_cuda(da, &e) == SSM_OK);
        }
    }
}

// The same for a head h and its GPU twin gh.
static inline void twin_plan_heads(ssm_head *h, ssm_arena *ha, ssm_head *gh, ssm_arena *da,
                                   int64_t B) {
    ssm_error e = {0};
    ssm_arena_init(ha);
    ssm_arena_init(da);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert(ssm_head_plan(h, ha, B, &e) == SSM_OK);
        ck_assert_msg(ssm_head_plan_cuda(gh, da, B, &e) == SSM_OK, "%s", e.msg);
        if (pass == 0) {
            ck_assert(ssm_arena_commit(ha, &e) == SSM_OK);
            ck_assert(ssm_arena_commit_cuda(da, &e) == SSM_OK);
        }
    }
}

// The arenas and tables of a twin check (the layers themselves are the caller's to free).
static inline void twin_free(ssm_arena *ha, ssm_arena *da, ssm_params *dp, ssm_params *p,
                             ssm_params *p2) {
    ssm_arena_free(ha);
    ssm_arena_free_cuda(da);
    ssm_params_cuda_free(dp);
    ssm_params_free(p);
    ssm_params_free(p2);
}

// Every tensor of p: the GPU's gradient g (a host copy in p's layout) against p's own,
// relative error below tol; with show, each error on stderr. `what` names the case in the
// failure ("" for none). Returns the worst error.
static inline double twin_grads_agree(const char *what, const real *g, const ssm_params *p,
                                      double tol, int show) {
    double worst = 0;
    for (size_t i = 0; i < p->count; i++) {
        const ssm_param_info *it = &p->items[i];
        double r = tu_rel_err(g + it->offset, p->grad + it->offset, it->numel);
        if (show)
            fprintf(stderr, "  gradient of %-30s rel err %.2g\n", it->name, r);
        ck_assert_msg(r < tol, "%s%sgradient of %s: relative error %.3e", what,
                      *what ? ": " : "", it->name, r);
        worst = r > worst ? r : worst;
    }
    return worst;
}

// One loss-and-gradient step of the same model built for the CPU and for the GPU on the
// host batch (x, th): the GPU's gradient poisoned first (an element left unwritten shows as
// NaN), its batch moved to the device as training moves it (*td: the device targets), its
// gradient downloaded into gpu->params.grad afterwards. The losses into *lc and *lg.
static inline void twin_model_step(ssm_model *cpu, ssm_model *gpu, const real *x,
                                   const ssm_targets *th, int64_t B, double *lc, double *lg,
                                   ssm_targets *td) {
    ssm_error e = {0};
    ck_assert_msg(model_loss_and_grad(cpu, x, th, B, lc, &e) == SSM_OK, "%s", e.msg);
    CUDA_CHECK_ABORT(cudaMemset(gpu->dparams.grad, 0xFF, gpu->dparams.total * sizeof(real)));
    const real *xd;
    ck_assert_msg(model_batch_in(gpu, x, th, B, &xd, td, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(model_loss_and_grad(gpu, xd, td, B, lg, &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_params_cuda_download(&gpu->params, &gpu->dparams, 1, &e) == SSM_OK);
}

// One training step of x on both models, the GPU's twice (its two gradients must be bitwise
// equal: no atomics), the losses within tol_loss (relative) and every parameter's gradient
// within tol_grad (relative); the losses, and the worst gradient error and its tensor, out.
static inline void twin_model_step_deterministic(ssm_model *cpu, ssm_model *gpu, const real *x,
                                                 const ssm_targets *th, int64_t B,
                                                 double tol_loss, double tol_grad,
                                                 const char *what, double *lc, double *lg,
                                                 double *worst, const char **worst_name) {
    ssm_error e = {0};
    ssm_targets td;
    ck_assert_msg(model_loss_and_grad(cpu, x, th, B, lc, &e) == SSM_OK, "%s", e.msg);
    const real *xd;
    real *g1 = malloc(cpu->params.total * sizeof(real));
    for (int rep = 0; rep < 2; rep++) {
        CUDA_CHECK_ABORT(cudaMemset(gpu->dparams.grad, 0xFF, gpu->dparams.total * sizeof(real)));
        ck_assert_msg(model_batch_in(gpu, x, th, B, &xd, &td, &e) == SSM_OK, "%s", e.msg);
        ck_assert_msg(model_loss_and_grad(gpu, xd, &td, B, lg, &e) == SSM_OK, "%s", e.msg);
        ck_assert(ssm_params_cuda_download(&gpu->params, &gpu->dparams, 1, &e) == SSM_OK);
        if (rep == 0)
            memcpy(g1, gpu->params.grad, cpu->params.total * sizeof(real));
    }
    ck_assert_msg(!memcmp(g1, gpu->params.grad, cpu->params.total * sizeof(real)),
                  "[%s] two GPU steps gave different gradients", what);
    free(g1);
    ck_assert_msg(fabs(*lg - *lc) <= tol_loss * fabs(*lc), "[%s] loss: cpu %.8f gpu %.8f", what,
                  *lc, *lg);
    *worst = 0;
    *worst_name = "";
    for (size_t i = 0; i < cpu->params.count; i++) {
        const ssm_param_info *it = &cpu->params.items[i];
        double r = tu_rel_err(gpu->params.grad + it->offset, cpu->params.grad + it->offset,
                              it->numel);
        ck_assert_msg(r < tol_grad, "[%s] gradient of %s: relative error %.3e", what, it->name, r);
        if (r > *worst)
            *worst = r, *worst_name = it->name;
    }
}

// The step's losses: printed, and the GPU's within tol of the CPU's, relative.
static inline void twin_loss_agrees(const char *what, double lc, double lg, double tol) {
    printf("[%s] loss cpu %.7f gpu %.7f\n", what, lc, lg);
    ck_assert_msg(fabs(lg - lc) <= tol * fabs(lc), "[%s] loss: cpu %.8f gpu %.8f", what, lc, lg);
}

// The outputs of the host batch x, n values: model_predict on the GPU against model_forward
// on the CPU, relative error below tol.
static inline void twin_outputs_agree(const char *what, ssm_model *cpu, ssm_model *gpu,
                                      const real *x, int64_t B, size_t n, double tol) {
    ssm_error e = {0};
    const real *og;
    ck_assert_msg(model_predict(gpu, x, B, &og, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(model_forward(cpu, x, B, &e) == SSM_OK, "%s", e.msg);
    double r = tu_rel_err(og, cpu->out, n);
    ck_assert_msg(r < tol, "%s: outputs: relative error %.3e", what, r);
}
