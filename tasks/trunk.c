// defines: the adapter -> backbone trunk (see trunk.h)
#include "tasks/trunk.h"

#include <stdlib.h>
#include <string.h>

// Branch k of layer i scans order (i*K + k) mod n_orders: with as many orders
// as branches every layer uses them all (Vim); with more orders than branches
// the layers cycle through them (PCM's changing xyz orders, VMamba-style
// alternation).
void trunk_fill_schedule(int32_t *schedule, int64_t n_layers, int K, int n_orders) {
    for (int64_t i = 0; i < n_layers; i++)
        for (int k = 0; k < K; k++)
            schedule[i * K + k] = (int32_t)((i * K + k) % n_orders);
}

ssm_code trunk_declare(ssm_trunk *t, const ssm_trunk_spec *spec, int64_t B_max, ssm_params *p,
                       ssm_error *err) {
    memset(t, 0, sizeof *t);
    mamba_config bc = spec->backbone;
    if (B_max < 1)
        return ssm_fail(err, SSM_ECONFIG, "batch size is %lld, expected >= 1", (long long)B_max);
    t->B_max = B_max;
    t->D = bc.d_model;
    t->n_layers = bc.n_layers;
    SSM_TRY(ssm_adapter_create(&t->adapter, spec->adapter, &spec->adapter_opt, &spec->input, t->D, p,
                               "", err));
    t->adapter->bf16 = bc.precision == MAMBA_BF16; // read by the adapter's CUDA plan
    t->L = t->adapter->seq_len;
    t->S = t->adapter->n_seqs;
    if (t->adapter->n_orders < 1)
        return ssm_fail(err, SSM_ECONFIG, "adapter %s provides no scan order", spec->adapter);
    if (bc.n_branches == 0)
        bc.n_branches = t->adapter->n_orders < MAMBA_MAX_BRANCHES ? t->adapter->n_orders
                                                                  : MAMBA_MAX_BRANCHES;
    t->n_branches = bc.n_branches;
    if (bc.n_branches > t->adapter->n_orders)
        return ssm_fail(err, SSM_ECONFIG,
                        "backbone has %d branches but adapter %s provides %d scan orders: list at "
                        "least %d in adapter.orders",
                        bc.n_branches, spec->adapter, t->adapter->n_orders, bc.n_branches);
    return mamba_stack_declare(&t->stack, &bc, p, "", err);
}

void trunk_init_params(ssm_trunk *t, ssm_params *p, ssm_rng *rng) {
    ssm_adapter_init_params(t->adapter, p, rng);
    mamba_stack_init_params(t->stack, p, rng);
}

ssm_code trunk_plan(ssm_trunk *t, ssm_arena *a, ssm_error *err) {
    int64_t N = t->B_max * t->S; // sequences the backbone sees
    size_t ntok = (size_t)N * t->L * t->D * sizeof(real);
    t->orders = ssm_arena_take(a, (size_t)t->adapter->n_orders * N * t->L * sizeof(int32_t));
    t->schedule = ssm_arena_take(a, (size_t)t->n_layers * t->n_branches * sizeof(int32_t));
    t->tokens = ssm_arena_take(a, ntok);
    t->feats = ssm_arena_take(a, ntok);
    t->dfeats = ssm_arena_take(a, ntok);
    t->dtokens = ssm_arena_take(a, ntok);
    SSM_TRY(ssm_adapter_plan(t->adapter, a, t->B_max, err));
    SSM_TRY(mamba_stack_plan(t->stack, a, N, t->L, err));
    if (!ssm_arena_measuring(a))
        trunk_fill_schedule(t->schedule, t->n_layers, t->n_branches, t->adapter->n_orders);
    return SSM_OK;
}

static mamba_orders orders_of(const ssm_trunk *t) {
    mamba_orders o = {.count = t->adapter->n_orders, .perm = t->orders, .schedule = t->schedule};
    return o;
}

ssm_code trunk_forward(ssm_trunk *t, const ssm_params *p, const real *x, int64_t B, ssm_error *err) {
    SSM_TRY(ssm_adapter_forward(t->adapter, p, t->tokens, t->orders, x, B, err));
    // The adapter wrote the orders as [n_orders, B*S, L] for this B, as mamba_orders reads them.
    mamba_orders o = orders_of(t);
    mamba_stack_forward(t->stack, p, t->feats, t->tokens, &o, B * t->S);
    return SSM_OK;
}

void trunk_backward(ssm_trunk *t, ssm_params *p, const real *x, int64_t B) {
    memset(t->dtokens, 0, (size_t)B * t->S * t->L * t->D * sizeof(real));
    mamba_orders o = orders_of(t);
    mamba_stack_backward(t->stack, p, t->dtokens, t->dfeats, &o, B * t->S);
    ssm_adapter_backward(t->adapter, p, t->dtokens, x, B);
}

void trunk_free(ssm_trunk *t) {
    if (t->adapter)
        ssm_adapter_free(t->adapter);
    if (t->stack)
        mamba_stack_free(t->stack);
    free(t->host_schedule);
    memset(t, 0, sizeof *t);
}
