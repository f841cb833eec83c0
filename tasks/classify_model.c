// defines: the classification model under its old name (see classify_model.h)
#include "tasks/classify_model.h"

#include <string.h>

ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err) {
    ssm_model_spec s = {.trunk = {.adapter = spec->adapter, .adapter_opt = spec->adapter_opt,
                                  .input = spec->input, .backbone = spec->backbone},
                        .head = "class",
                        .head_opt = {.num_classes = spec->num_classes,
                                     .pool = spec->mean_pool ? SSM_HEAD_POOL_MEAN : SSM_HEAD_POOL_CLS},
                        .loss = {.kind = LOSS_CE, .smoothing = spec->label_smoothing},
                        .B_max = spec->B_max, .seed = spec->seed, .device = spec->device};
    return model_build(m, &s, err);
}

ssm_code classify_model_batch_in(classify_model *m, const real *x_host, const int32_t *y_host,
                                 int64_t B, const real **x, const int32_t **y, ssm_error *err) {
    ssm_targets th = {.cls = y_host}, td;
    SSM_TRY(model_batch_in(m, x_host, y_host ? &th : NULL, B, x, &td, err));
    if (y)
        *y = td.cls;
    return SSM_OK;
}

ssm_code classify_model_loss_and_grad(classify_model *m, const real *x, const int32_t *labels,
                                      int64_t B, double *loss, ssm_error *err) {
    ssm_targets t = {.cls = labels};
    return model_loss_and_grad(m, x, &t, B, loss, err);
}

void classify_model_free(classify_model *m) { model_free(m); }
