// defines: the test-time augmentation of the classify evaluation (see classify_tta.h)
#include "tasks/classify_tta.h"

#include <stdlib.h>
#include <string.h>

#include "datasets/augment.h"

ssm_code classify_tta_init(classify_tta *t, int hflip, const ssm_input_shape *in, int64_t B_max,
                           int64_t V, ssm_error *err) {
    memset(t, 0, sizeof *t);
    if (!hflip)
        return SSM_OK;
    if (in->ndim != 3)
        return ssm_fail(err, SSM_ECONFIG,
                        "task.tta: hflip mirrors images, but this data gives %d-dimensional samples "
                        "(expected [C, H, W]); set task.tta: none",
                        in->ndim);
    t->hflip = 1;
    t->C = in->dims[0], t->H = in->dims[1], t->W = in->dims[2];
    t->B_max = B_max, t->V = V;
    t->x_flip = malloc((size_t)(B_max * t->C * t->H * t->W) * sizeof(real));
    t->logits = malloc((size_t)(B_max * V) * sizeof(real));
    if (!t->x_flip || !t->logits) {
        classify_tta_free(t);
        return ssm_fail(err, SSM_ENOMEM, "task.tta: out of memory for a mirrored batch of %lld",
                        (long long)B_max);
    }
    return SSM_OK;
}

void classify_tta_free(classify_tta *t) {
    free(t->x_flip);
    free(t->logits);
    memset(t, 0, sizeof *t);
}

ssm_code classify_predict_tta(ssm_model *m, classify_tta *t, const real *x_host, int64_t B,
                              const real **logits, ssm_error *err) {
    if (!t || !t->hflip)
        return model_predict(m, x_host, B, logits, err);
    if (B > t->B_max)
        return ssm_fail(err, SSM_EINVAL, "task.tta: batch of %lld above the planned %lld",
                        (long long)B, (long long)t->B_max);
    const real *lg;
    SSM_TRY(model_predict(m, x_host, B, &lg, err));
    memcpy(t->logits, lg, (size_t)(B * t->V) * sizeof(real));
    const int64_t n = t->C * t->H * t->W;
    for (int64_t b = 0; b < B; b++)
        ssm_image_hflip(t->x_flip + b * n, x_host + b * n, t->C, t->H, t->W);
    SSM_TRY(model_predict(m, t->x_flip, B, &lg, err));
    for (int64_t i = 0; i < B * t->V; i++)
        t->logits[i] = (real)0.5 * (t->logits[i] + lg[i]);
    *logits = t->logits;
    return SSM_OK;
}
