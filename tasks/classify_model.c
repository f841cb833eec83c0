// defines: the classification model (see classify_model.h)
#include "tasks/classify_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/loss.h"

static ssm_code plan(classify_model *m, ssm_error *err) {
    ssm_arena *a = &m->arena;
    int64_t B = m->B_max, V = m->V;
    SSM_TRY(trunk_plan(&m->trunk, a, err));
    m->logits = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->probs = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->dlogits = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->losses = ssm_arena_take(a, (size_t)B * sizeof(real));
    m->dloss = ssm_arena_take(a, (size_t)B * sizeof(real));
    SSM_TRY(class_head_plan(&m->head, a, B, err));
    const ssm_trunk *t = &m->trunk;
    m->orders = t->orders;
    m->schedule = t->schedule;
    m->tokens = t->tokens;
    m->feats = t->feats;
    m->dfeats = t->dfeats;
    m->dtokens = t->dtokens;
    return SSM_OK;
}

ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err) {
    memset(m, 0, sizeof *m);
    ssm_params_init(&m->params);
    ssm_arena_init(&m->arena);
    if (spec->num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, expected >= 2",
                        (long long)spec->num_classes);
    if (spec->B_max < 1)
        return ssm_fail(err, SSM_ECONFIG, "batch size is %lld, expected >= 1", (long long)spec->B_max);
    m->B_max = spec->B_max;
    m->V = spec->num_classes;
    m->smoothing = spec->label_smoothing;
    ssm_trunk_spec ts = {.adapter = spec->adapter, .adapter_opt = spec->adapter_opt,
                         .input = spec->input, .backbone = spec->backbone};
    SSM_TRY(trunk_declare(&m->trunk, &ts, m->B_max, &m->params, err));
    m->adapter = m->trunk.adapter;
    m->stack = m->trunk.stack;
    m->D = m->trunk.D;
    m->n_layers = m->trunk.n_layers;
    m->n_branches = m->trunk.n_branches;
    m->L = m->trunk.S * m->trunk.L; // one sample's tokens, contiguous
    int64_t cls = spec->mean_pool ? -1 : m->adapter->cls_index;
    if (cls >= 0 && m->trunk.S > 1)
        return ssm_fail(err, SSM_ECONFIG,
                        "adapter %s makes %lld sequences per sample: pool by the mean (task.pool: mean)",
                        spec->adapter, (long long)m->trunk.S);
    SSM_TRY(class_head_declare(&m->head, &m->params, "", m->D, m->V, cls, err));
    SSM_TRY(ssm_params_finalize(&m->params, err));

    ssm_rng rng;
    SSM_TRY(ssm_rng_init(&rng, spec->seed, err));
    trunk_init_params(&m->trunk, &m->params, &rng);
    class_head_init_params(&m->head, &m->params, &rng);
    ssm_rng_free(&rng);

    SSM_TRY(plan(m, err)); // measure
    SSM_TRY(ssm_arena_commit(&m->arena, err));
    SSM_TRY(plan(m, err)); // hand out
    return SSM_OK;
}

ssm_code classify_model_forward(classify_model *m, const real *x, int64_t B, ssm_error *err) {
    SSM_TRY(trunk_forward(&m->trunk, &m->params, x, B, err));
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
    cross_entropy_backward(m->dlogits, m->dloss, m->probs, labels, B, m->V, (real)m->smoothing);
    class_head_backward(&m->head, &m->params, m->dfeats, m->dlogits, m->feats, B, m->L);
    trunk_backward(&m->trunk, &m->params, x, B);
    return SSM_OK;
}

void classify_model_free(classify_model *m) {
    trunk_free(&m->trunk);
    ssm_arena_free(&m->arena);
    ssm_params_free(&m->params);
    memset(m, 0, sizeof *m);
}
