// defines: the classification model (see classify_model.h)
#include "tasks/classify_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/loss.h"

// Branch k of layer i scans order (i*K + k) mod n_orders: with as many orders
// as branches every layer uses them all (Vim); with more orders than branches
// the layers cycle through them (PCM's changing xyz orders, VMamba-style
// alternation).
static void fill_schedule(int32_t *schedule, int64_t n_layers, int K, int n_orders) {
    for (int64_t i = 0; i < n_layers; i++)
        for (int k = 0; k < K; k++)
            schedule[i * K + k] = (int32_t)((i * K + k) % n_orders);
}

static ssm_code plan(classify_model *m, ssm_error *err) {
    ssm_arena *a = &m->arena;
    int64_t B = m->B_max, L = m->L, D = m->D, V = m->V;
    m->orders = ssm_arena_take(a, (size_t)m->adapter->n_orders * B * L * sizeof(int32_t));
    m->schedule = ssm_arena_take(a, (size_t)m->n_layers * m->n_branches * sizeof(int32_t));
    m->tokens = ssm_arena_take(a, (size_t)B * L * D * sizeof(real));
    m->feats = ssm_arena_take(a, (size_t)B * L * D * sizeof(real));
    m->dfeats = ssm_arena_take(a, (size_t)B * L * D * sizeof(real));
    m->dtokens = ssm_arena_take(a, (size_t)B * L * D * sizeof(real));
    m->logits = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->probs = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->dlogits = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->losses = ssm_arena_take(a, (size_t)B * sizeof(real));
    m->dloss = ssm_arena_take(a, (size_t)B * sizeof(real));
    SSM_TRY(ssm_adapter_plan(m->adapter, a, B, err));
    SSM_TRY(mamba_stack_plan(m->stack, a, B, L, err));
    SSM_TRY(class_head_plan(&m->head, a, B, err));
    return SSM_OK;
}

ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err) {
    memset(m, 0, sizeof *m);
    ssm_params_init(&m->params);
    ssm_arena_init(&m->arena);
    mamba_config bcfg = spec->backbone;
    const mamba_config *bc = &bcfg;
    if (spec->num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, expected >= 2",
                        (long long)spec->num_classes);
    if (spec->B_max < 1)
        return ssm_fail(err, SSM_ECONFIG, "batch size is %lld, expected >= 1", (long long)spec->B_max);
    m->B_max = spec->B_max;
    m->D = bc->d_model;
    m->V = spec->num_classes;
    m->n_layers = bc->n_layers;
    m->smoothing = spec->label_smoothing;
    SSM_TRY(ssm_adapter_create(&m->adapter, spec->adapter, &spec->adapter_opt, &spec->input, m->D,
                               &m->params, "", err));
    m->L = m->adapter->seq_len;
    if (m->adapter->n_orders < 1)
        return ssm_fail(err, SSM_ECONFIG, "adapter %s provides no scan order", spec->adapter);
    if (bcfg.n_branches == 0)
        bcfg.n_branches = m->adapter->n_orders < MAMBA_MAX_BRANCHES ? m->adapter->n_orders
                                                                    : MAMBA_MAX_BRANCHES;
    m->n_branches = bcfg.n_branches;
    if (bc->n_branches > m->adapter->n_orders)
        return ssm_fail(err, SSM_ECONFIG,
                        "backbone has %d branches but adapter %s provides %d scan orders: list at "
                        "least %d in adapter.orders",
                        bc->n_branches, spec->adapter, m->adapter->n_orders, bc->n_branches);
    SSM_TRY(mamba_stack_declare(&m->stack, bc, &m->params, "", err));
    SSM_TRY(class_head_declare(&m->head, &m->params, "", m->D, m->V,
                               spec->mean_pool ? -1 : m->adapter->cls_index, err));
    SSM_TRY(ssm_params_finalize(&m->params, err));

    ssm_rng rng;
    SSM_TRY(ssm_rng_init(&rng, spec->seed, err));
    ssm_adapter_init_params(m->adapter, &m->params, &rng);
    mamba_stack_init_params(m->stack, &m->params, &rng);
    class_head_init_params(&m->head, &m->params, &rng);
    ssm_rng_free(&rng);

    SSM_TRY(plan(m, err)); // measure
    SSM_TRY(ssm_arena_commit(&m->arena, err));
    SSM_TRY(plan(m, err)); // hand out
    fill_schedule(m->schedule, m->n_layers, m->n_branches, m->adapter->n_orders);
    return SSM_OK;
}

static mamba_orders orders_of(const classify_model *m) {
    mamba_orders o = {.count = m->adapter->n_orders, .perm = m->orders, .schedule = m->schedule};
    return o;
}

ssm_code classify_model_forward(classify_model *m, const real *x, int64_t B, ssm_error *err) {
    SSM_TRY(ssm_adapter_forward(m->adapter, &m->params, m->tokens, m->orders, x, B, err));
    mamba_orders o = orders_of(m);
    // The adapter wrote the orders as [n_orders, B, L] for this B, as mamba_orders reads them.
    mamba_stack_forward(m->stack, &m->params, m->feats, m->tokens, &o, B);
    class_head_forward(&m->head, &m->params, m->logits, m->feats, B, m->L);
    return SSM_OK;
}

ssm_code classify_model_loss_and_grad(classify_model *m, const real *x, const int32_t *labels,
                                      int64_t B, double *loss, ssm_error *err) {
    for (int64_t i = 0; i < B; i++)
        if (labels[i] < 0 || labels[i] >= m->V)
            return ssm_fail(err, SSM_EDATA, "label %d of batch sample %lld is outside [0, %lld)",
                            labels[i], (long long)i, (long long)m->V);
    SSM_TRY(classify_model_forward(m, x, B, err));
    cross_entropy_forward(m->losses, m->probs, m->logits, labels, B, m->V, (real)m->smoothing);
    double sum = 0;
    for (int64_t i = 0; i < B; i++)
        sum += m->losses[i];
    *loss = sum / (double)B;
    if (!isfinite(*loss))
        return ssm_fail(err, SSM_EDATA, "loss is %g (not finite): lower optim.lr or check the data",
                        *loss);

    ssm_params_zero_grad(&m->params);
    for (int64_t i = 0; i < B; i++)
        m->dloss[i] = (real)(1.0 / (double)B);
    size_t nlog = (size_t)B * m->V, ntok = (size_t)B * m->L * m->D;
    memset(m->dlogits, 0, nlog * sizeof(real));
    memset(m->dfeats, 0, ntok * sizeof(real));
    memset(m->dtokens, 0, ntok * sizeof(real));
    cross_entropy_backward(m->dlogits, m->dloss, m->probs, labels, B, m->V, (real)m->smoothing);
    class_head_backward(&m->head, &m->params, m->dfeats, m->dlogits, m->feats, B, m->L);
    mamba_orders o = orders_of(m);
    mamba_stack_backward(m->stack, &m->params, m->dtokens, m->dfeats, &o, B);
    ssm_adapter_backward(m->adapter, &m->params, m->dtokens, x, B);
    return SSM_OK;
}

void classify_model_free(classify_model *m) {
    if (m->adapter)
        ssm_adapter_free(m->adapter);
    if (m->stack)
        mamba_stack_free(m->stack);
    ssm_arena_free(&m->arena);
    ssm_params_free(&m->params);
    memset(m, 0, sizeof *m);
}
