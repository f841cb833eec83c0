// defines: the adapter -> backbone trunk (see trunk.h)
#include "tasks/trunk.h"

#include <stdlib.h>
#include <string.h>

#include "tasks/trunk_concat.h"

// Branch k of layer i scans order (i*K + k) mod n_orders: with as many orders
// as branches every layer uses them all (Vim); with more orders than branches
// the layers cycle through them (PCM's changing xyz orders, VMamba-style
// alternation).
void trunk_fill_schedule(int32_t *schedule, int64_t n_layers, int K, int n_orders) {
    for (int64_t i = 0; i < n_layers; i++)
        for (int k = 0; k < K; k++)
            schedule[i * K + k] = (int32_t)((i * K + k) % n_orders);
}

// The concat layout (trunk.h): the backbone scans one sequence of O*L tokens in 1 or 2
// orders of its own; the order indicators are declared between the adapter and the
// backbone. PointMamba draws gamma ~ N(1, 0.02^2), beta ~ N(0, 0.02^2) and keeps them out of
// the weight decay (one-dimensional parameters).
static ssm_code concat_declare(ssm_trunk *t, mamba_config *bc, ssm_params *p, const char *name,
                               ssm_error *err) {
    if (t->ragged)
        return ssm_fail(err, SSM_ECONFIG, "adapter.order_layout: concat lays a sample's orders "
                        "end to end; adapter %s gives variable-length samples (use branches)",
                        name);
    if (bc->n_branches == 0)
        bc->n_branches = 1;
    if (bc->n_branches > 2)
        return ssm_fail(err, SSM_ECONFIG, "adapter.order_layout: concat scans the concatenated "
                        "orders forward (backbone.n_branches: 1) or both ways (2), not with %d "
                        "branches", bc->n_branches);
    t->concat = 1;
    t->n_cat = t->adapter->n_orders;
    t->Lc = t->n_cat * t->L;
    t->n_branches = bc->n_branches;
    int64_t shape[2] = {t->n_cat, t->D};
    SSM_TRY(ssm_params_add(p, "order_scale.gamma", 2, shape, SSM_PARAM_NO_DECAY, &t->cat_gamma,
                           err));
    return ssm_params_add(p, "order_scale.beta", 2, shape, SSM_PARAM_NO_DECAY, &t->cat_beta, err);
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
    if (t->adapter->ragged) {
        if (t->S != 1 || t->adapter->ragged_extra < 0 || t->adapter->ragged_extra > 1)
            return ssm_fail(err, SSM_EINVAL, "adapter %s: a ragged adapter has 1 sequence per "
                            "sample and adds 0 or 1 tokens to each", spec->adapter);
        t->ragged = 1;
        t->extra = t->adapter->ragged_extra;
        t->L = t->adapter->seq_len + B_max * t->extra; // the token budget of one packed row
        t->x_off = malloc((size_t)(B_max + 1) * sizeof *t->x_off);
        t->tok_off = malloc((size_t)(B_max + 1) * sizeof *t->tok_off);
        if (!t->x_off || !t->tok_off)
            return ssm_fail(err, SSM_ENOMEM, "out of memory for the batch offsets");
    }
    if (t->adapter->n_orders < 1)
        return ssm_fail(err, SSM_ECONFIG, "adapter %s provides no scan order", spec->adapter);
    if (bc.order_prompts > 0) { // PCM's order prompts (backbone/mamba.h): one set per order
        if (t->ragged)
            return ssm_fail(err, SSM_ECONFIG, "backbone.order_prompts: the order prompts are laid "
                            "around each sequence of a dense batch; adapter %s gives "
                            "variable-length samples (packed rows): set backbone.order_prompts: 0",
                            spec->adapter);
        if (spec->order_layout == TRUNK_ORDERS_CONCAT)
            return ssm_fail(err, SSM_ECONFIG, "backbone.order_prompts goes with PCM's per-layer "
                            "order schedule (adapter.order_layout: branches); the concat layout "
                            "marks its orders with order_scale instead: set one of the two");
        bc.prompt_orders = t->adapter->n_orders;
    }
    if (spec->order_layout == TRUNK_ORDERS_CONCAT) {
        SSM_TRY(concat_declare(t, &bc, p, spec->adapter, err));
        return mamba_stack_declare(&t->stack, &bc, p, "", err);
    }
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
    if (t->concat) {
        size_t n = (size_t)t->n_cat * t->D;
        real *g = ssm_params_data(p, t->cat_gamma);
        ssm_init_trunc_normal(g, n, rng, .02, -2, 2);
        for (size_t i = 0; i < n; i++)
            g[i] += 1;
        ssm_init_trunc_normal(ssm_params_data(p, t->cat_beta), n, rng, .02, -2, 2);
    }
    mamba_stack_init_params(t->stack, p, rng);
}

ssm_code trunk_set_packing(ssm_trunk *t, const int64_t *offsets, int64_t B, uint64_t key,
                           ssm_error *err) {
    if (!t->ragged)
        return ssm_fail(err, SSM_EINVAL, "adapter %s takes dense batches, not packed ones",
                        t->adapter->vt->name);
    if (B < 1 || B > t->B_max)
        return ssm_fail(err, SSM_EINVAL, "batch of %lld, the model was planned for 1..%lld",
                        (long long)B, (long long)t->B_max);
    for (int64_t b = 0; b <= B; b++) {
        t->x_off[b] = offsets[b];
        t->tok_off[b] = offsets[b] + b * t->extra;
    }
    t->xpack = (ssm_packing){.n = B, .total = offsets[B], .offsets = t->x_off,
                             .d_offsets = t->d_x_off, .key = key};
    t->tpack = (ssm_packing){.n = B, .total = t->tok_off[B], .offsets = t->tok_off,
                             .d_offsets = t->d_tok_off, .key = key};
    ssm_code rc = ssm_packing_check(&t->xpack, t->adapter->seq_len, err);
    if (rc)
        return ssm_error_prefix(err, "adapter %s (raise data.max_tokens, or crop bags with "
                                "data.max_instances): ", t->adapter->vt->name);
    return SSM_OK;
}

void trunk_set_dropout(ssm_trunk *t, ssm_dropout_step st) {
    t->adapter->drop = st;
    mamba_stack_set_dropout(t->stack, st, t->ragged ? 1 : t->S);
}

int64_t trunk_tokens(const ssm_trunk *t, int64_t B) {
    return t->ragged ? t->tpack.total : B * t->S * t->L;
}

ssm_code trunk_plan(ssm_trunk *t, ssm_arena *a, ssm_error *err) {
    // A ragged trunk is one packed row of up to L tokens; the adapter plans its own budget.
    int64_t N = t->ragged ? 1 : t->B_max * t->S; // sequences the backbone sees
    size_t ntok = (size_t)N * t->L * t->D * sizeof(real);
    t->orders = ssm_arena_take(a, (size_t)t->adapter->n_orders * N * t->L * sizeof(int32_t));
    t->schedule = ssm_arena_take(a, (size_t)t->n_layers * t->n_branches * sizeof(int32_t));
    t->tokens = ssm_arena_take(a, ntok);
    t->feats = ssm_arena_take(a, ntok);
    t->dfeats = ssm_arena_take(a, ntok);
    t->dtokens = ssm_arena_take(a, ntok);
    if (t->concat) {
        size_t ncat = (size_t)N * t->Lc * t->D * sizeof(real);
        t->cat_inv = ssm_arena_take(a, (size_t)t->n_cat * N * t->L * sizeof(int32_t));
        t->cat_orders = ssm_arena_take(a, (size_t)t->n_branches * N * t->Lc * sizeof(int32_t));
        t->cat_in = ssm_arena_take(a, ncat);
        t->cat_out = ssm_arena_take(a, ncat);
    }
    SSM_TRY(ssm_adapter_plan(t->adapter, a, t->B_max, err));
    SSM_TRY(mamba_stack_plan(t->stack, a, N, t->concat ? t->Lc : t->L, err));
    if (!ssm_arena_measuring(a))
        trunk_fill_schedule(t->schedule, t->n_layers, t->n_branches,
                            t->concat ? t->n_branches : t->adapter->n_orders);
    return SSM_OK;
}

// The orders the backbone scans: the adapter's, or in the concat layout the trunk's own
// over the long sequences.
static mamba_orders orders_of(const ssm_trunk *t) {
    if (t->concat)
        return (mamba_orders){.count = t->n_branches, .perm = t->cat_orders,
                              .schedule = t->schedule};
    mamba_orders o = {.count = t->adapter->n_orders, .perm = t->orders, .schedule = t->schedule};
    return o;
}

// The concat layout's forward from the adapter's tokens and orders (trunk.h).
static void concat_forward(ssm_trunk *t, const ssm_params *p, int64_t N) {
    trunk_concat_inverse(t->cat_inv, t->orders, t->n_cat, N, t->L);
    trunk_concat_gather(t->cat_in, t->tokens, t->orders, ssm_params_data(p, t->cat_gamma),
                        ssm_params_data(p, t->cat_beta), t->n_cat, N, t->L, t->D);
    trunk_concat_orders(t->cat_orders, t->n_branches, N, t->Lc);
    mamba_orders o = orders_of(t);
    mamba_stack_forward(t->stack, p, t->cat_out, t->cat_in, &o, N);
    trunk_concat_merge(t->feats, t->cat_out, t->cat_inv, t->n_cat, N, t->L, t->D);
}

static void concat_backward(ssm_trunk *t, ssm_params *p, int64_t N) {
    trunk_concat_merge_backward(t->cat_out, t->dfeats, t->orders, t->n_cat, N, t->L, t->D);
    memset(t->cat_in, 0, (size_t)N * t->Lc * t->D * sizeof(real));
    mamba_orders o = orders_of(t);
    mamba_stack_backward(t->stack, p, t->cat_in, t->cat_out, &o, N);
    trunk_concat_gather_backward(t->dtokens, ssm_params_grad(p, t->cat_gamma),
                                 ssm_params_grad(p, t->cat_beta), t->cat_in, t->tokens, t->orders,
                                 t->cat_inv, ssm_params_data(p, t->cat_gamma), t->n_cat, N, t->L,
                                 t->D);
}

ssm_code trunk_forward(ssm_trunk *t, const ssm_params *p, const real *x, int64_t B, ssm_error *err) {
    if (t->ragged) {
        if (t->xpack.n != B)
            return ssm_fail(err, SSM_EINVAL, "packed batch of %lld samples set, %lld given",
                            (long long)t->xpack.n, (long long)B);
        t->adapter->pack = &t->xpack;
        SSM_TRY(ssm_adapter_forward(t->adapter, p, t->tokens, t->orders, x, B, err));
        mamba_orders o = orders_of(t);
        SSM_TRY(mamba_orders_check_packed(t->stack, &o, &t->tpack, err));
        mamba_stack_forward_packed(t->stack, p, t->feats, t->tokens, &o, &t->tpack);
        return SSM_OK;
    }
    SSM_TRY(ssm_adapter_forward(t->adapter, p, t->tokens, t->orders, x, B, err));
    // The adapter wrote the orders as [n_orders, B*S, L] for this B, as mamba_orders reads them.
    if (t->concat) {
        concat_forward(t, p, B * t->S);
        return SSM_OK;
    }
    mamba_orders o = orders_of(t);
    mamba_stack_forward(t->stack, p, t->feats, t->tokens, &o, B * t->S);
    return SSM_OK;
}

void trunk_backward(ssm_trunk *t, ssm_params *p, const real *x, int64_t B) {
    memset(t->dtokens, 0, (size_t)trunk_tokens(t, B) * t->D * sizeof(real));
    mamba_orders o = orders_of(t);
    if (t->ragged) {
        t->adapter->pack = &t->xpack;
        mamba_stack_backward_packed(t->stack, p, t->dtokens, t->dfeats, &o, &t->tpack);
        ssm_adapter_backward(t->adapter, p, t->dtokens, x, B);
        return;
    }
    if (t->concat)
        concat_backward(t, p, B * t->S);
    else
        mamba_stack_backward(t->stack, p, t->dtokens, t->dfeats, &o, B * t->S);
    ssm_adapter_backward(t->adapter, p, t->dtokens, x, B);
}

void trunk_free(ssm_trunk *t) {
    if (t->adapter)
        ssm_adapter_free(t->adapter);
    if (t->stack)
        mamba_stack_free(t->stack);
    free(t->host_schedule);
    free(t->x_off);
    free(t->tok_off);
    memset(t, 0, sizeof *t);
}
