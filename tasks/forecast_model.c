// defines: the forecasting model (see forecast_model.h)
#include "tasks/forecast_model.h"

#include <math.h>
#include <string.h>

#include "adapters/revin.h"

static ssm_code plan(forecast_model *m, ssm_error *err) {
    ssm_arena *a = &m->arena;
    size_t n = (size_t)m->B_max * m->H * m->G * sizeof(real);
    SSM_TRY(trunk_plan(&m->trunk, a, err));
    m->yn = ssm_arena_take(a, n);
    m->pred = ssm_arena_take(a, n);
    m->dpred = ssm_arena_take(a, n);
    m->dyn = ssm_arena_take(a, n);
    m->tmp = ssm_arena_take(a, n);
    return SSM_OK;
}

ssm_code forecast_model_build(forecast_model *m, const forecast_model_spec *spec, ssm_error *err) {
    memset(m, 0, sizeof *m);
    ssm_params_init(&m->params);
    ssm_arena_init(&m->arena);
    const ssm_input_shape *in = &spec->trunk.input;
    if (in->ndim != 2)
        return ssm_fail(err, SSM_EINVAL, "forecast: input has %d dimensions, expected [lookback, variates]",
                        in->ndim);
    m->B_max = spec->B_max;
    m->H = spec->horizon;
    m->G = in->dims[1];
    m->Vout = spec->out_vars;
    m->mae = spec->mae;
    if (m->Vout < 1 || m->Vout > m->G)
        return ssm_fail(err, SSM_EINVAL, "forecast: %lld target variates out of %lld inputs",
                        (long long)m->Vout, (long long)m->G);
    SSM_TRY(trunk_declare(&m->trunk, &spec->trunk, m->B_max, &m->params, err));
    int64_t per_sample = m->trunk.S * m->trunk.L * m->trunk.D;
    if (per_sample % m->G != 0)
        return ssm_fail(err, SSM_ECONFIG,
                        "forecast: adapter %s gives %lld features per sample, not a multiple of the "
                        "%lld variates (use series_variate or series_patch)",
                        spec->trunk.adapter, (long long)per_sample, (long long)m->G);
    const ssm_revin *rv = m->trunk.adapter->inorm;
    if (rv && rv->V != m->G)
        return ssm_fail(err, SSM_EINVAL, "forecast: RevIN over %lld variates, head over %lld",
                        (long long)rv->V, (long long)m->G);
    SSM_TRY(forecast_head_declare(&m->head, &m->params, "", m->G, per_sample / m->G, m->H, err));
    SSM_TRY(ssm_params_finalize(&m->params, err));
    ssm_rng rng;
    SSM_TRY(ssm_rng_init(&rng, spec->seed, err));
    trunk_init_params(&m->trunk, &m->params, &rng);
    forecast_head_init_params(&m->head, &m->params, &rng);
    ssm_rng_free(&rng);
    SSM_TRY(plan(m, err));
    SSM_TRY(ssm_arena_commit(&m->arena, err));
    return plan(m, err);
}

ssm_code forecast_model_forward(forecast_model *m, const real *x, int64_t B, ssm_error *err) {
    SSM_TRY(trunk_forward(&m->trunk, &m->params, x, B, err));
    const ssm_revin *rv = m->trunk.adapter->inorm;
    forecast_head_forward(&m->head, &m->params, rv ? m->yn : m->pred, m->tmp, m->trunk.feats, B);
    if (rv)
        ssm_revin_denorm_forward(rv, &m->params, m->pred, m->yn, B, m->H);
    return SSM_OK;
}

ssm_code forecast_model_loss_and_grad(forecast_model *m, const real *x, const real *y, int64_t B,
                                      double *loss, ssm_error *err) {
    SSM_TRY(forecast_model_forward(m, x, B, err));
    *loss = forecast_loss_forward(m->pred, y, B, m->H, m->G, m->Vout, m->mae);
    if (!isfinite(*loss))
        return ssm_fail(err, SSM_EDATA, "loss is %g (not finite): lower optim.lr or check the data",
                        *loss);
    ssm_params_zero_grad(&m->params);
    size_t n = (size_t)B * m->H * m->G;
    memset(m->dpred, 0, n * sizeof(real));
    forecast_loss_backward(m->dpred, m->pred, y, B, m->H, m->G, m->Vout, m->mae);
    const ssm_revin *rv = m->trunk.adapter->inorm;
    const real *dyn = m->dpred;
    if (rv) {
        memset(m->dyn, 0, n * sizeof(real));
        ssm_revin_denorm_backward(rv, &m->params, m->dyn, m->dpred, m->yn, B, m->H);
        dyn = m->dyn;
    }
    memset(m->trunk.dfeats, 0, (size_t)B * m->trunk.S * m->trunk.L * m->trunk.D * sizeof(real));
    forecast_head_backward(&m->head, &m->params, m->trunk.dfeats, m->tmp, dyn, m->trunk.feats, B);
    trunk_backward(&m->trunk, &m->params, x, B);
    return SSM_OK;
}

void forecast_model_free(forecast_model *m) {
    trunk_free(&m->trunk);
    ssm_arena_free(&m->arena);
    ssm_params_free(&m->params);
    memset(m, 0, sizeof *m);
}
