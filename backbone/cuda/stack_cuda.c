// defines: mamba_stack_plan_cuda, mamba_stack_forward_cuda, mamba_stack_backward_cuda,
//          mamba_stack_forward_packed_cuda, mamba_stack_backward_packed_cuda
// The residual stack of backbone/stack.c on one GPU (contract: backbone/mamba_cuda.h).
// Same math; the residual add is fused into the next norm (kernels/cuda/norm.h):
//   layer 0:   res_0 = in, normed_0 = norm_0(res_0)              (one pass)
//   layer i:   mix_i = mixer_i(normed_i)
//              res_{i+1} = res_i + mix_i, normed_{i+1} = norm(res_{i+1})   (one pass)
//   the last:  res_n = res_{n-1} + mix, out = norm_f(res_n)       (one pass)
// Backward: dres = norm_f'(dout); per layer (last first) the mixer's input gradient
// dnormed, then dres += norm_i'(dnormed) in place (the residual's gradient reaches res_i
// directly); layer 0 adds norm_0'(dnormed) + dres straight into din (the fused residual
// backward), so din gets one pass.
//
// bf16 (cfg.precision MAMBA_BF16): the same stack; the norms and the residual stream stay
// fp32, the mixers run mixer_bf16.c (which casts its normed input to bf16 itself).
//
// Packed rows (core/packing.h): the same stack on one row of pk->total tokens (B = 1,
// L = total), every step sized by the call (mamba_cuda_call) instead of the plan; the norms
// and the residual are per token, and the mixers hand the device offsets to the conv and the
// scan, which restart at each. The arena holds B_max rows of the planned L, so a packed row
// may hold up to B_max * L tokens. fp32 and bf16 alike.
//
// Extended blocks (an FFN, or post-norm: backbone/mamba.h) run block_cuda.c's passes layer
// by layer instead: res_0 = in (a copy), res_{i+1} = block_i(res_i), out = norm_f(res_n);
// din += the gradient that reaches res_0. Their buffers are planned after all of the above,
// so the plain block's plan is unchanged.
//
// Order prompts (backbone/mamba.h; cfg.order_prompts > 0, dense calls only): every run is
// over sequences of L = P + L_tok, the caller's tokens copied after the slots
// (prompt_kernels.h); before each layer the slots of res_i are overwritten with its prompts,
// so the residual add is not fused into the next norm there; after a layer's backward the
// slots' gradient goes to order_prompt and stops. norm_f runs over every row into the free
// dres, and the token rows are copied out; din gets the token rows of the last dres.
//
// No host<->device copy and no synchronization: every call is queued on the library stream
// (kernels/cuda/common.h ssm_cuda_stream).
// The only host reads are the schedule (a host array), the plan, and a packed call's host
// offsets (checked with ssm_packing_check; the kernels read pk->d_offsets).
#include <string.h>

#include "backbone/cuda/block_cuda.h"
#include "backbone/cuda/mixer_cuda.h"
#include "backbone/cuda/prompt_kernels.h"
#include "backbone/mamba_cuda.h"
#include "backbone/mamba_internal.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/scan.h"

// A failed twin recorded its message in the per-thread CUDA error: move it into err.
static ssm_code took(ssm_code rc, ssm_error *err) {
    if (rc == SSM_OK)
        return rc;
    ssm_code t = ssm_cuda_take_error(err);
    if (t == SSM_OK)
        return ssm_fail(err, rc, "mamba (cuda): a device call failed with %s and no message",
                        ssm_code_name(rc));
    return t;
}
#define TRY_DEV(call)                                                                     \
    do {                                                                                  \
        ssm_code rc_ = (call);                                                            \
        if (rc_ != SSM_OK)                                                                \
            return took(rc_, err);                                                        \
    } while (0)

ssm_code mamba_stack_plan_cuda(mamba_stack *s, ssm_arena *a, int64_t B_max, int64_t L,
                               ssm_error *err) {
    if (sizeof(real) != sizeof(float))
        return ssm_fail(err, SSM_EINVAL, "mamba plan (cuda): built with double reals; the GPU "
                                         "backbone is fp32");
    if (B_max < 1 || L < 1 || B_max > 65535)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba plan (cuda): B_max %lld, L %lld: each must be >= 1, and B_max "
                        "<= 65535 (grid limit of the scan and layout kernels)",
                        (long long)B_max, (long long)L);
    if (s->cfg.scan_chunk > SCAN_CUDA_MAX_BWD_CHUNK)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba plan (cuda): scan_chunk %lld, but the CUDA scan backward re-runs "
                        "one chunk per tile and needs scan_chunk <= %d (set backbone.scan_chunk)",
                        (long long)s->cfg.scan_chunk, SCAN_CUDA_MAX_BWD_CHUNK);
    if (s->dc > CONV1D_CUDA_MAX_K)
        return ssm_fail(err, SSM_EINVAL, "mamba plan (cuda): d_conv %lld, at most %d",
                        (long long)s->dc, CONV1D_CUDA_MAX_K);
    const int measuring = ssm_arena_measuring(a);
    if (!s->cu_acts) {
        s->cu_acts = calloc((size_t)s->n_layers, sizeof *s->cu_acts);
        if (!s->cu_acts)
            return ssm_fail(err, SSM_ENOMEM, "mamba plan (cuda): out of memory");
    }
    s->B_max = s->cu_B_max = B_max;
    s->L_tok = L;
    L += s->n_prompt; // order prompts: the runs are over the extended sequences
    s->L = s->cu_L = L;
    s->n_chunks = (L + s->cfg.scan_chunk - 1) / s->cfg.scan_chunk;
    s->cu_planned = 0;
    const int bf = s->cfg.precision == MAMBA_BF16;
    if (bf && !s->bf_acts) {
        s->bf_acts = calloc((size_t)s->n_layers, sizeof *s->bf_acts);
        if (!s->bf_acts)
            return ssm_fail(err, SSM_ENOMEM, "mamba plan (cuda): out of memory");
    }
    const int64_t B = B_max, D = s->D, E = s->E, N = s->N, P = s->P, R = s->R, K = s->K;
    const size_t BLD = (size_t)(B * L * D), BEL = (size_t)(B * E * L);
    int missing = 0;
#define TAKE(ptr, n)                                                     \
    do {                                                                 \
        (ptr) = ssm_arena_take(a, (size_t)(n) * sizeof(real));           \
        missing |= !measuring && (ptr) == NULL;                          \
    } while (0)
#define TAKE_H(ptr, n) /* bf16 elements */                               \
    do {                                                                 \
        (ptr) = ssm_arena_take(a, (size_t)(n) * sizeof(uint16_t));       \
        missing |= !measuring && (ptr) == NULL;                          \
    } while (0)
    // The fp32 plan takes exactly what it took before bf16 existed, in the same order; the bf16
    // plan takes the bf16 twins (TAKE_H) in the fp32 ones' places and its extras at the end.
    mamba_bf16_scratch *h = &s->bf;
    memset(h, 0, sizeof *h);
    for (int64_t i = 0; i < s->n_layers; i++) {
        mamba_cuda_layer_acts *t = &s->cu_acts[i];
        mamba_bf16_layer_acts *th = bf ? &s->bf_acts[i] : NULL;
        memset(t, 0, sizeof *t);
        if (th)
            memset(th, 0, sizeof *th);
        TAKE(t->res, BLD);
        if (bf)
            TAKE_H(th->normed, BLD); // t->normed: the shared normed32, set below
        else
            TAKE(t->normed, BLD);
        if (s->cfg.norm == MAMBA_NORM_LAYER)
            TAKE(t->mean, B * L);
        TAKE(t->rstd, B * L);
        if (bf) {
            TAKE_H(th->xz, 2 * BEL);
            TAKE_H(th->y, BEL);
        } else {
            TAKE(t->xz, 2 * BEL);
            TAKE(t->y, BEL);
        }
        for (int k = 0; k < K; k++) {
            if (bf)
                TAKE_H(th->xdbl[k], B * P * L);
            else
                TAKE(t->xdbl[k], B * P * L);
            TAKE(t->cstates[k], B * E * s->n_chunks * N);
        }
    }
    TAKE(s->cu_res_out, BLD);
    s->cu_mean_f = NULL;
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        TAKE(s->cu_mean_f, B * L);
    TAKE(s->cu_rstd_f, B * L);
    mamba_cuda_scratch *c = &s->cu;
    memset(c, 0, sizeof *c);
    TAKE(c->A, K * E * N);
    TAKE(c->xg, BEL);
    TAKE(c->xc, BEL);
    if (bf) {
        TAKE_H(h->delta, BEL);
        TAKE_H(h->ys, BEL);
    } else {
        TAKE(c->delta, BEL);
        TAKE(c->ys, BEL);
    }
    TAKE(c->mix, BLD);
    if (bf)
        TAKE_H(h->g, BEL);
    else
        TAKE(c->g, BEL);
    TAKE(c->dres, BLD);
    if (bf)
        TAKE_H(h->dxz, 2 * BEL);
    else
        TAKE(c->dxz, 2 * BEL);
    TAKE(c->dxc, BEL);
    if (bf) {
        TAKE_H(h->ddelta, BEL);
        TAKE_H(h->dxdbl, B * P * L);
    } else {
        TAKE(c->ddelta, BEL);
        TAKE(c->dxdbl, B * P * L);
    }
    TAKE(c->dA, E * N);
    TAKE(c->wpart, B * (P * E + E * R));
    // The scan picks its kernel (and so its workspace) from the batch it gets: size for the
    // largest over every batch a call may bring.
    c->ws_floats = 0;
    for (int64_t b = 1; b <= B_max; b++) {
        scan_shape ss = {.B = b, .D = E, .L = L, .N = N, .G = 1, .chunk = s->cfg.scan_chunk,
                         .delta_softplus = 1};
        size_t w = selective_scan_workspace_size_cuda(&ss);
        if (w > c->ws_floats)
            c->ws_floats = w;
    }
    { // and a packed row of up to B_max * L tokens (its kernels, and so its size, differ;
      // the size grows with L for a fixed kernel, so the longest row bounds every shorter one)
        static const int64_t any_offsets[1] = {0}; // only "not NULL" matters to the size
        scan_shape ss = {.B = 1, .D = E, .L = B_max * L, .N = N, .G = 1,
                         .chunk = s->cfg.scan_chunk, .delta_softplus = 1,
                         .seg_offsets = any_offsets, .n_segs = 1};
        size_t w = selective_scan_workspace_size_cuda(&ss);
        if (w > c->ws_floats)
            c->ws_floats = w;
    }
    TAKE(c->ws, c->ws_floats);
    if (bf) {
        TAKE(h->normed32, BLD);
        TAKE(h->dBC, 2 * B * N * L);
        TAKE_H(h->xc, BEL);
        TAKE_H(h->dxc, BEL);
        TAKE_H(h->dout, BLD);
        for (int64_t i = 0; i < s->n_layers; i++)
            s->cu_acts[i].normed = h->normed32;
    }
    c->dffn = NULL;
    if (mamba_block_extended(&s->cfg)) { // block_cuda.c's buffers (mamba_internal.h)
        const int64_t F = s->cfg.ffn_dim, post = s->cfg.norm_position == MAMBA_POST_NORM;
        for (int64_t i = 0; i < s->n_layers; i++) {
            mamba_cuda_layer_acts *t = &s->cu_acts[i];
            TAKE(t->sum1, BLD);
            if (F > 0) {
                TAKE(t->hn, BLD);
                if (post)
                    TAKE(t->sum2, BLD);
                if (s->cfg.norm == MAMBA_NORM_LAYER)
                    TAKE(t->mean2, B * L);
                TAKE(t->rstd2, B * L);
                TAKE(t->ffn_a, B * L * F);
                TAKE(t->ffn_g, B * L * F);
            }
        }
        if (F > 0)
            TAKE(c->dffn, B * L * F);
    }
    s->cu_pr_perm = NULL;
    if (s->n_prompt) { // last: the plan without prompts is unchanged
        s->cu_pr_perm =
            ssm_arena_take(a, (size_t)(s->cfg.prompt_orders * B * L) * sizeof(int32_t));
        missing |= !measuring && s->cu_pr_perm == NULL;
    }
#undef TAKE
#undef TAKE_H
    if (missing)
        return ssm_fail(err, SSM_ENOMEM,
                        "mamba plan (cuda): the device arena (%zu bytes) is smaller than the "
                        "measured plan; plan in measure mode, ssm_arena_commit_cuda, then plan "
                        "again with the same calls",
                        a->capacity);
    s->cu_planned = !measuring;
    return SSM_OK;
}

static ssm_code check_call(const mamba_stack *s, const ssm_params *p, const mamba_orders *o,
                           int64_t B, const char *who, ssm_error *err) {
    if (!s || !p)
        return ssm_fail(err, SSM_EINVAL, "%s: no stack or no parameters", who);
    if (!s->cu_planned)
        return ssm_fail(err, SSM_EINVAL, "%s: the stack has no CUDA plan (mamba_stack_plan_cuda "
                                         "in measure mode, ssm_arena_commit_cuda, plan again)",
                        who);
    if (s->L != s->cu_L || s->B_max != s->cu_B_max)
        return ssm_fail(err, SSM_EINVAL,
                        "%s: the stack was planned again (L %lld, B_max %lld) after its CUDA "
                        "plan (L %lld, B_max %lld); a stack is planned for one device",
                        who, (long long)s->L, (long long)s->B_max, (long long)s->cu_L,
                        (long long)s->cu_B_max);
    if (B < 1 || B > s->cu_B_max)
        return ssm_fail(err, SSM_EINVAL, "%s: batch %lld, planned for 1..%lld", who,
                        (long long)B, (long long)s->cu_B_max);
    if (s->cfg.precision == MAMBA_BF16 && !p->data_bf16)
        return ssm_fail(err, SSM_EINVAL, "%s: bf16 stack but the parameters have no bf16 shadow "
                                         "(ssm_params_cuda_shadow_bf16)", who);
    if (!o || !o->perm || o->count < 1 || (!o->schedule && o->count < s->K))
        return ssm_fail(err, SSM_EINVAL,
                        "%s: scan orders missing or too few (need a device perm, count >= 1, "
                        "and count >= %lld branches without a schedule)",
                        who, (long long)s->K);
    // the schedule is a host array that picks device perms: an entry out of range would read
    // past the order table on the device (the CPU's order check covers its own callers)
    for (int64_t i = 0; o->schedule && i < s->n_layers * s->K; i++)
        if (o->schedule[i] < 0 || o->schedule[i] >= o->count)
            return ssm_fail(err, SSM_EINVAL,
                            "%s: scan order schedule entry %lld (layer %lld) is %d, need 0..%lld",
                            who, (long long)i, (long long)(i / s->K), (int)o->schedule[i],
                            (long long)o->count - 1);
    if (s->n_prompt && o->count > s->cfg.prompt_orders)
        return ssm_fail(err, SSM_EINVAL,
                        "%s: %lld scan orders, but the order prompts (order_prompt.weight) were "
                        "declared for %lld",
                        who, (long long)o->count, (long long)s->cfg.prompt_orders);
    return SSM_OK;
}

// norm(res) with res = inp + resid written to res_out (resid NULL: res_out = inp)
static ssm_code norm_res_fwd(const mamba_stack *s, const ssm_params *p, real *out, real *res_out,
                             real *mean, real *rstd, const real *inp, const real *resid, size_t w,
                             size_t bias, int64_t rows) {
    const real eps = (real)s->cfg.norm_eps;
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        return layernorm_residual_forward_cuda(out, res_out, mean, rstd, inp, resid,
                                               ssm_params_data(p, w), ssm_params_data(p, bias),
                                               rows, s->D, eps);
    return rmsnorm_residual_forward_cuda(out, res_out, rstd, inp, resid, ssm_params_data(p, w),
                                         rows, s->D, eps);
}

// A packed call's extent after checking pk against the plan (host offsets only).
static ssm_code packed_call(const mamba_stack *s, const ssm_packing *pk, mamba_cuda_call *cl,
                            const char *who, ssm_error *err) {
    if (s->n_prompt)
        return ssm_fail(err, SSM_EINVAL,
                        "%s: order prompts (backbone.order_prompts %lld) are laid around each "
                        "dense sequence; packed (ragged) rows are not supported with them",
                        who, (long long)s->n_prompt);
    if (!pk || !pk->d_offsets)
        return ssm_fail(err, SSM_EINVAL, "%s: %s", who,
                        !pk ? "no packing" : "the packing has no device offsets (d_offsets)");
    ssm_error e = {0};
    if (ssm_packing_check(pk, s->cu_B_max * s->cu_L, &e) != SSM_OK)
        return ssm_fail(err, SSM_EINVAL,
                        "%s: %s (the CUDA plan holds B_max %lld x L %lld tokens)", who, e.msg,
                        (long long)s->cu_B_max, (long long)s->cu_L);
    *cl = (mamba_cuda_call){.B = 1, .L = pk->total, .seg = pk->d_offsets, .n_segs = pk->n};
    return SSM_OK;
}

// The extended blocks' forward (see the header).
static ssm_code stack_forward_extended(mamba_stack *s, const ssm_params *p, real *out,
                                       const real *in, const mamba_orders *orders,
                                       const mamba_cuda_call *cl, ssm_error *err) {
    const int64_t rows = cl->B * cl->L, n = s->n_layers;
    const size_t bytes = (size_t)(rows * s->D) * sizeof(real);
    cudaError_t e =
        cudaMemcpyAsync(s->cu_acts[0].res, in, bytes, cudaMemcpyDeviceToDevice, ssm_cuda_stream());
    if (e != cudaSuccess)
        return took(ssm_cuda_fail(__FILE__, __LINE__, "cudaMemcpyAsync(res_0 <- in)", e), err);
    for (int64_t i = 0; i < n; i++) {
        real *next = i + 1 < n ? s->cu_acts[i + 1].res : s->cu_res_out;
        TRY_DEV(mamba_block_forward_cuda(s, p, i, next, orders, cl));
    }
    if (!s->cfg.final_norm) {
        e = cudaMemcpyAsync(out, s->cu_res_out, bytes, cudaMemcpyDeviceToDevice, ssm_cuda_stream());
        if (e != cudaSuccess)
            return took(ssm_cuda_fail(__FILE__, __LINE__, "cudaMemcpyAsync(out <- res_n)", e),
                        err);
        return SSM_OK;
    }
    const real eps = (real)s->cfg.norm_eps;
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        TRY_DEV(layernorm_forward_cuda(out, s->cu_mean_f, s->cu_rstd_f, s->cu_res_out,
                                       ssm_params_data(p, s->normf_w),
                                       ssm_params_data(p, s->normf_b), rows, s->D, eps));
    else
        TRY_DEV(rmsnorm_forward_cuda(out, s->cu_rstd_f, s->cu_res_out,
                                     ssm_params_data(p, s->normf_w), rows, s->D, eps));
    return SSM_OK;
}

static ssm_code stack_forward(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                              const mamba_orders *orders, const mamba_cuda_call *cl,
                              ssm_error *err) {
    if (mamba_block_extended(&s->cfg))
        return stack_forward_extended(s, p, out, in, orders, cl, err);
    const int64_t rows = cl->B * cl->L, n = s->n_layers;
    mamba_cuda_layer_acts *A0 = &s->cu_acts[0];
    TRY_DEV(norm_res_fwd(s, p, A0->normed, A0->res, A0->mean, A0->rstd, in, NULL,
                         s->lp[0].norm_w, s->lp[0].norm_b, rows));
    for (int64_t i = 0; i < n; i++) {
        const mamba_cuda_layer_acts *t = &s->cu_acts[i];
        if (s->cfg.precision == MAMBA_BF16)
            TRY_DEV(mamba_mixer_forward_bf16(s, p, i, s->cu.mix, t->normed, orders, cl));
        else
            TRY_DEV(mamba_mixer_forward_cuda(s, p, i, s->cu.mix, t->normed, orders, cl));
        if (i + 1 < n) {
            mamba_cuda_layer_acts *nx = &s->cu_acts[i + 1];
            TRY_DEV(norm_res_fwd(s, p, nx->normed, nx->res, nx->mean, nx->rstd, s->cu.mix,
                                 t->res, s->lp[i + 1].norm_w, s->lp[i + 1].norm_b, rows));
        } else if (s->cfg.final_norm) {
            TRY_DEV(norm_res_fwd(s, p, out, s->cu_res_out, s->cu_mean_f, s->cu_rstd_f,
                                 s->cu.mix, t->res, s->normf_w, s->normf_b, rows));
        } else {
            TRY_DEV(add_forward_cuda(out, s->cu.mix, t->res, rows * s->D));
        }
    }
    return SSM_OK;
}

static ssm_code stack_backward(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                               const mamba_orders *orders, const mamba_cuda_call *cl,
                               ssm_error *err) {
    const int64_t rows = cl->B * cl->L, D = s->D;
    const int ln = s->cfg.norm == MAMBA_NORM_LAYER;
    real *dres = s->cu.dres, *dnormed = s->cu.mix; // [B, L, D]; mix is free in the backward
    const size_t bytes = (size_t)(rows * D) * sizeof(real);
    if (s->cfg.final_norm) {
        cudaError_t e = cudaMemsetAsync(dres, 0, bytes, ssm_cuda_stream());
        if (e != cudaSuccess)
            return took(ssm_cuda_fail(__FILE__, __LINE__, "cudaMemsetAsync(dres)", e), err);
        if (ln)
            TRY_DEV(layernorm_backward_cuda(dres, ssm_params_grad(p, s->normf_w),
                                            ssm_params_grad(p, s->normf_b), dout, s->cu_res_out,
                                            ssm_params_data(p, s->normf_w), s->cu_mean_f,
                                            s->cu_rstd_f, rows, D));
        else
            TRY_DEV(rmsnorm_backward_cuda(dres, ssm_params_grad(p, s->normf_w), dout,
                                          s->cu_res_out, ssm_params_data(p, s->normf_w),
                                          s->cu_rstd_f, rows, D));
    } else {
        cudaError_t e =
            cudaMemcpyAsync(dres, dout, bytes, cudaMemcpyDeviceToDevice, ssm_cuda_stream());
        if (e != cudaSuccess)
            return took(ssm_cuda_fail(__FILE__, __LINE__, "cudaMemcpyAsync(dres <- dout)", e),
                        err);
    }
    if (mamba_block_extended(&s->cfg)) {
        for (int64_t i = s->n_layers - 1; i >= 0; i--)
            TRY_DEV(mamba_block_backward_cuda(s, p, i, dres, orders, cl));
        TRY_DEV(add_forward_cuda(din, din, dres, rows * D));
        return SSM_OK;
    }
    for (int64_t i = s->n_layers - 1; i >= 0; i--) {
        const mamba_cuda_layer_acts *t = &s->cu_acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        real *dw = ssm_params_grad(p, lp->norm_w), *db = ln ? ssm_params_grad(p, lp->norm_b) : NULL;
        const real *w = ssm_params_data(p, lp->norm_w);
        if (s->cfg.precision == MAMBA_BF16)
            TRY_DEV(mamba_mixer_backward_bf16(s, p, i, dnormed, dres, orders, cl));
        else
            TRY_DEV(mamba_mixer_backward_cuda(s, p, i, dnormed, dres, t->normed, orders, cl));
        if (i > 0) { // dres += norm_i'(dnormed)
            if (ln)
                TRY_DEV(layernorm_backward_cuda(dres, dw, db, dnormed, t->res, w, t->mean,
                                                t->rstd, rows, D));
            else
                TRY_DEV(rmsnorm_backward_cuda(dres, dw, dnormed, t->res, w, t->rstd, rows, D));
        } else { // din += norm_0'(dnormed) + dres
            if (ln)
                TRY_DEV(layernorm_residual_backward_cuda(din, NULL, dw, db, dnormed, dres,
                                                         t->res, w, t->mean, t->rstd, rows, D));
            else
                TRY_DEV(rmsnorm_residual_backward_cuda(din, NULL, dw, dnormed, dres, t->res, w,
                                                       t->rstd, rows, D));
        }
    }
    return SSM_OK;
}

// ---- order prompts (see the header) ----------------------------------------------------
// out = norm(inp) over rows (no residual), the layer's or norm_f's weights
static ssm_code norm_plain_fwd(const mamba_stack *s, const ssm_params *p, real *out, real *mean,
                               real *rstd, const real *inp, size_t w, size_t b, int64_t rows) {
    const real eps = (real)s->cfg.norm_eps;
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        return layernorm_forward_cuda(out, mean, rstd, inp, ssm_params_data(p, w),
                                      ssm_params_data(p, b), rows, s->D, eps);
    return rmsnorm_forward_cuda(out, rstd, inp, ssm_params_data(p, w), rows, s->D, eps);
}

// dinp += norm'(dout) at the forward's input inp
static ssm_code norm_plain_bwd(const mamba_stack *s, ssm_params *p, real *dinp, const real *dout,
                               const real *inp, const real *mean, const real *rstd, size_t w,
                               size_t b, int64_t rows) {
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        return layernorm_backward_cuda(dinp, ssm_params_grad(p, w), ssm_params_grad(p, b), dout,
                                       inp, ssm_params_data(p, w), mean, rstd, rows, s->D);
    return rmsnorm_backward_cuda(dinp, ssm_params_grad(p, w), dout, inp, ssm_params_data(p, w),
                                 rstd, rows, s->D);
}

// The caller's orders extended over the slots (into the plan's cu_pr_perm).
static ssm_code prompt_orders_cuda(mamba_stack *s, const mamba_orders *o, int64_t B,
                                   mamba_orders *ext, ssm_error *err) {
    TRY_DEV(prompt_extend_cuda(s->cu_pr_perm, o->perm, o->count * B, s->L_tok, s->n_prompt));
    *ext = (mamba_orders){.count = o->count, .perm = s->cu_pr_perm, .schedule = o->schedule};
    return SSM_OK;
}

// the rows of order_prompt (data or grad) that layer i's slots hold
static size_t prompt_rows_at(const mamba_stack *s, const mamba_orders *o, int64_t i) {
    return (size_t)(mamba_prompt_order(s, o, i) * s->n_prompt * s->D);
}

static ssm_code stack_forward_prompts(mamba_stack *s, const ssm_params *p, real *out,
                                      const real *in, const mamba_orders *orders, int64_t B,
                                      ssm_error *err) {
    mamba_orders ext;
    SSM_TRY(prompt_orders_cuda(s, orders, B, &ext, err));
    const mamba_cuda_call cl = {.B = B, .L = s->cu_L, .seg = NULL, .n_segs = 0};
    const int64_t rows = B * s->cu_L, n = s->n_layers, Lt = s->L_tok, P = s->n_prompt, D = s->D;
    const real *w = ssm_params_data(p, s->prompt_w);
    TRY_DEV(prompt_tokens_in_cuda(s->cu_acts[0].res, in, B, Lt, P, D));
    for (int64_t i = 0; i < n; i++) {
        const mamba_cuda_layer_acts *t = &s->cu_acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        real *next = i + 1 < n ? s->cu_acts[i + 1].res : s->cu_res_out;
        TRY_DEV(prompt_write_cuda(t->res, w + prompt_rows_at(s, &ext, i), B, Lt, P, D));
        if (mamba_block_extended(&s->cfg)) {
            TRY_DEV(mamba_block_forward_cuda(s, p, i, next, &ext, &cl));
            continue;
        }
        TRY_DEV(norm_plain_fwd(s, p, t->normed, t->mean, t->rstd, t->res, lp->norm_w, lp->norm_b,
                               rows));
        if (s->cfg.precision == MAMBA_BF16)
            TRY_DEV(mamba_mixer_forward_bf16(s, p, i, s->cu.mix, t->normed, &ext, &cl));
        else
            TRY_DEV(mamba_mixer_forward_cuda(s, p, i, s->cu.mix, t->normed, &ext, &cl));
        TRY_DEV(add_forward_cuda(next, s->cu.mix, t->res, rows * D));
    }
    const real *fin = s->cu_res_out;
    if (s->cfg.final_norm) { // every row into the free dres; the token rows go out
        TRY_DEV(norm_plain_fwd(s, p, s->cu.dres, s->cu_mean_f, s->cu_rstd_f, s->cu_res_out,
                               s->normf_w, s->normf_b, rows));
        fin = s->cu.dres;
    }
    TRY_DEV(prompt_tokens_out_cuda(out, fin, B, Lt, P, D, 0));
    return SSM_OK;
}

static ssm_code stack_backward_prompts(mamba_stack *s, ssm_params *p, real *din,
                                       const real *dout, const mamba_orders *orders, int64_t B,
                                       ssm_error *err) {
    mamba_orders ext;
    SSM_TRY(prompt_orders_cuda(s, orders, B, &ext, err));
    const mamba_cuda_call cl = {.B = B, .L = s->cu_L, .seg = NULL, .n_segs = 0};
    const int64_t rows = B * s->cu_L, Lt = s->L_tok, P = s->n_prompt, D = s->D;
    real *dres = s->cu.dres, *dnormed = s->cu.mix; // [B, L, D]; mix is free in the backward
    real *gw = ssm_params_grad(p, s->prompt_w);
    const size_t bytes = (size_t)(rows * D) * sizeof(real);
    cudaError_t e = cudaMemsetAsync(dres, 0, bytes, ssm_cuda_stream());
    if (e == cudaSuccess && s->cfg.final_norm)
        e = cudaMemsetAsync(dnormed, 0, bytes, ssm_cuda_stream());
    if (e != cudaSuccess)
        return took(ssm_cuda_fail(__FILE__, __LINE__, "cudaMemsetAsync(dres)", e), err);
    if (s->cfg.final_norm) { // dout in the token rows of the free mix, then norm_f'
        TRY_DEV(prompt_tokens_in_cuda(dnormed, dout, B, Lt, P, D));
        TRY_DEV(norm_plain_bwd(s, p, dres, dnormed, s->cu_res_out, s->cu_mean_f, s->cu_rstd_f,
                               s->normf_w, s->normf_b, rows));
    } else {
        TRY_DEV(prompt_tokens_in_cuda(dres, dout, B, Lt, P, D));
    }
    for (int64_t i = s->n_layers - 1; i >= 0; i--) {
        const mamba_cuda_layer_acts *t = &s->cu_acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        if (mamba_block_extended(&s->cfg)) {
            TRY_DEV(mamba_block_backward_cuda(s, p, i, dres, &ext, &cl));
        } else {
            if (s->cfg.precision == MAMBA_BF16)
                TRY_DEV(mamba_mixer_backward_bf16(s, p, i, dnormed, dres, &ext, &cl));
            else
                TRY_DEV(mamba_mixer_backward_cuda(s, p, i, dnormed, dres, t->normed, &ext, &cl));
            TRY_DEV(norm_plain_bwd(s, p, dres, dnormed, t->res, t->mean, t->rstd, lp->norm_w,
                                   lp->norm_b, rows));
        }
        // the slots of res_i held layer i's prompts: their gradient ends there
        TRY_DEV(prompt_backward_cuda(gw + prompt_rows_at(s, &ext, i), dres, B, Lt, P, D));
    }
    TRY_DEV(prompt_tokens_out_cuda(din, dres, B, Lt, P, D, 1));
    return SSM_OK;
}

ssm_code mamba_stack_forward_cuda(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                                  const mamba_orders *orders, int64_t B, ssm_error *err) {
    SSM_TRY(check_call(s, p, orders, B, "mamba_stack_forward_cuda", err));
    if (s->n_prompt)
        return stack_forward_prompts(s, p, out, in, orders, B, err);
    const mamba_cuda_call cl = {.B = B, .L = s->cu_L, .seg = NULL, .n_segs = 0};
    return stack_forward(s, p, out, in, orders, &cl, err);
}

ssm_code mamba_stack_backward_cuda(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                                   const mamba_orders *orders, int64_t B, ssm_error *err) {
    SSM_TRY(check_call(s, p, orders, B, "mamba_stack_backward_cuda", err));
    if (s->n_prompt)
        return stack_backward_prompts(s, p, din, dout, orders, B, err);
    const mamba_cuda_call cl = {.B = B, .L = s->cu_L, .seg = NULL, .n_segs = 0};
    return stack_backward(s, p, din, dout, orders, &cl, err);
}

ssm_code mamba_stack_forward_packed_cuda(mamba_stack *s, const ssm_params *p, real *out,
                                         const real *in, const mamba_orders *orders,
                                         const ssm_packing *pk, ssm_error *err) {
    const char *who = "mamba_stack_forward_packed_cuda";
    mamba_cuda_call cl;
    SSM_TRY(check_call(s, p, orders, 1, who, err));
    SSM_TRY(packed_call(s, pk, &cl, who, err));
    return stack_forward(s, p, out, in, orders, &cl, err);
}

ssm_code mamba_stack_backward_packed_cuda(mamba_stack *s, ssm_params *p, real *din,
                                          const real *dout, const mamba_orders *orders,
                                          const ssm_packing *pk, ssm_error *err) {
    const char *who = "mamba_stack_backward_packed_cuda";
    mamba_cuda_call cl;
    SSM_TRY(check_call(s, p, orders, 1, who, err));
    SSM_TRY(packed_call(s, pk, &cl, who, err));
    return stack_backward(s, p, din, dout, orders, &cl, err);
}
