// defines: the trunk on one GPU (see trunk.h)
#include "tasks/cuda/trunk.h"

#include <stdlib.h>

#include "backbone/mamba_cuda.h"
#include "core/cuda/try.h"
#include "tasks/cuda/trunk_concat.h"

ssm_code trunk_plan_cuda(ssm_trunk *t, ssm_arena *a, ssm_error *err) {
    int64_t N = t->ragged ? 1 : t->B_max * t->S; // a ragged trunk: one packed row (trunk.h)
    size_t ntok = (size_t)N * t->L * t->D * sizeof(real);
    if (!ssm_adapter_has_cuda(t->adapter))
        return ssm_fail(err, SSM_EDEVICE,
                        "adapter %s has no CUDA path (run.device: cuda): set run.device: cpu",
                        t->adapter->vt->name);
    t->orders = ssm_arena_take(a, (size_t)t->adapter->n_orders * N * t->L * sizeof(int32_t));
    t->tokens = ssm_arena_take(a, ntok);
    t->feats = ssm_arena_take(a, ntok);
    t->dfeats = ssm_arena_take(a, ntok);
    t->dtokens = ssm_arena_take(a, ntok);
    if (!t->host_schedule) {
        t->host_schedule = malloc((size_t)t->n_layers * t->n_branches * sizeof(int32_t) + 1);
        if (!t->host_schedule)
            return ssm_fail(err, SSM_ENOMEM, "out of memory for the scan schedule");
        trunk_fill_schedule(t->host_schedule, t->n_layers, t->n_branches,
                            t->concat ? t->n_branches : t->adapter->n_orders);
    }
    t->schedule = t->host_schedule;
    if (t->ragged) {
        t->d_x_off = ssm_arena_take(a, (size_t)(t->B_max + 1) * sizeof(int64_t));
        t->d_tok_off = ssm_arena_take(a, (size_t)(t->B_max + 1) * sizeof(int64_t));
    }
    if (t->concat) { // as trunk_plan
        size_t ncat = (size_t)N * t->Lc * t->D * sizeof(real);
        t->cat_inv = ssm_arena_take(a, (size_t)t->n_cat * N * t->L * sizeof(int32_t));
        t->cat_orders = ssm_arena_take(a, (size_t)t->n_branches * N * t->Lc * sizeof(int32_t));
        t->cat_in = ssm_arena_take(a, ncat);
        t->cat_out = ssm_arena_take(a, ncat);
    }
    SSM_TRY(ssm_adapter_plan_cuda(t->adapter, a, t->B_max, err));
    return mamba_stack_plan_cuda(t->stack, a, N, t->concat ? t->Lc : t->L, err);
}

// The concat layout (trunk.h), as trunk.c's concat_forward / concat_backward.
static ssm_code concat_forward_cuda(ssm_trunk *t, const ssm_params *p, int64_t N,
                                    ssm_error *err) {
    SSM_CUDA_TRY(trunk_concat_inverse_cuda(t->cat_inv, t->orders, t->n_cat, N, t->L), err);
    SSM_CUDA_TRY(trunk_concat_gather_cuda(t->cat_in, t->tokens, t->orders,
                                          ssm_params_data(p, t->cat_gamma),
                                          ssm_params_data(p, t->cat_beta), t->n_cat, N, t->L,
                                          t->D), err);
    SSM_CUDA_TRY(trunk_concat_orders_cuda(t->cat_orders, t->n_branches, N, t->Lc), err);
    mamba_orders o = {.count = t->n_branches, .perm = t->cat_orders, .schedule = t->schedule};
    SSM_TRY(mamba_stack_forward_cuda(t->stack, p, t->cat_out, t->cat_in, &o, N, err));
    SSM_CUDA_TRY(trunk_concat_merge_cuda(t->feats, t->cat_out, t->cat_inv, t->n_cat, N, t->L,
                                         t->D), err);
    return SSM_OK;
}

static ssm_code concat_backward_cuda(ssm_trunk *t, ssm_params *p, int64_t N, ssm_error *err) {
    SSM_CUDA_TRY(trunk_concat_merge_backward_cuda(t->cat_out, t->dfeats, t->orders, t->n_cat, N,
                                                  t->L, t->D), err);
    SSM_CUDA_TRY(ssm_cuda_zero(t->cat_in, (size_t)N * t->Lc * t->D * sizeof(real)), err);
    mamba_orders o = {.count = t->n_branches, .perm = t->cat_orders, .schedule = t->schedule};
    SSM_TRY(mamba_stack_backward_cuda(t->stack, p, t->cat_in, t->cat_out, &o, N, err));
    SSM_CUDA_TRY(trunk_concat_gather_backward_cuda(
                     t->dtokens, ssm_params_grad(p, t->cat_gamma), ssm_params_grad(p, t->cat_beta),
                     t->cat_in, t->tokens, t->orders, t->cat_inv,
                     ssm_params_data(p, t->cat_gamma), t->n_cat, N, t->L, t->D), err);
    return SSM_OK;
}

ssm_code trunk_upload_packing_cuda(ssm_trunk *t, ssm_error *err) {
    size_t n = (size_t)(t->xpack.n + 1) * sizeof(int64_t);
    SSM_CUDA_TRY(ssm_cuda_upload(t->d_x_off, t->x_off, n), err);
    SSM_CUDA_TRY(ssm_cuda_upload(t->d_tok_off, t->tok_off, n), err);
    t->xpack.d_offsets = t->d_x_off;
    t->tpack.d_offsets = t->d_tok_off;
    return SSM_OK;
}

ssm_code trunk_forward_cuda(ssm_trunk *t, const ssm_params *p, const real *x, int64_t B,
                            ssm_error *err) {
    if (t->ragged) {
        if (t->xpack.n != B || !t->xpack.d_offsets)
            return ssm_fail(err, SSM_EINVAL, "packed batch of %lld samples set (uploaded: %s), "
                            "%lld given", (long long)t->xpack.n,
                            t->xpack.d_offsets ? "yes" : "no", (long long)B);
        t->adapter->pack = &t->xpack;
        SSM_TRY(ssm_adapter_forward_cuda(t->adapter, p, t->tokens, t->orders, x, B, err));
        mamba_orders o = {.count = t->adapter->n_orders, .perm = t->orders,
                          .schedule = t->schedule};
        return mamba_stack_forward_packed_cuda(t->stack, p, t->feats, t->tokens, &o, &t->tpack,
                                               err);
    }
    SSM_TRY(ssm_adapter_forward_cuda(t->adapter, p, t->tokens, t->orders, x, B, err));
    if (t->concat)
        return concat_forward_cuda(t, p, B * t->S, err);
    mamba_orders o = {.count = t->adapter->n_orders, .perm = t->orders, .schedule = t->schedule};
    return mamba_stack_forward_cuda(t->stack, p, t->feats, t->tokens, &o, B * t->S, err);
}

ssm_code trunk_backward_cuda(ssm_trunk *t, ssm_params *p, const real *x, int64_t B, ssm_error *err) {
    SSM_CUDA_TRY(ssm_cuda_zero(t->dtokens, (size_t)trunk_tokens(t, B) * t->D * sizeof(real)), err);
    mamba_orders o = {.count = t->adapter->n_orders, .perm = t->orders, .schedule = t->schedule};
    if (t->ragged) {
        t->adapter->pack = &t->xpack;
        SSM_TRY(mamba_stack_backward_packed_cuda(t->stack, p, t->dtokens, t->dfeats, &o,
                                                 &t->tpack, err));
        return ssm_adapter_backward_cuda(t->adapter, p, t->dtokens, x, B, err);
    }
    if (t->concat)
        SSM_TRY(concat_backward_cuda(t, p, B * t->S, err));
    else
        SSM_TRY(mamba_stack_backward_cuda(t->stack, p, t->dtokens, t->dfeats, &o, B * t->S, err));
    return ssm_adapter_backward_cuda(t->adapter, p, t->dtokens, x, B, err);
}
