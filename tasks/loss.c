// defines: the training losses (see loss.h)
#include "tasks/loss.h"

#include <math.h>

#include "kernels/loss.h"

const char *loss_kind_name(loss_kind k) {
    return k == LOSS_CE ? "ce" : k == LOSS_MSE ? "mse" : k == LOSS_MAE ? "mae" : "?";
}

ssm_code loss_check_targets(const loss_spec *l, const ssm_targets *t, int64_t B, int64_t K,
                            ssm_error *err) {
    if (l->kind == LOSS_CE) {
        if (!t->cls)
            return ssm_fail(err, SSM_EDATA, "loss ce: the batch has no class labels");
        for (int64_t i = 0; i < B; i++)
            if (t->cls[i] < 0 || t->cls[i] >= K)
                return ssm_fail(err, SSM_EDATA, "label %d of batch sample %lld is outside [0, %lld)",
                                t->cls[i], (long long)i, (long long)K);
        return SSM_OK;
    }
    if (!t->values)
        return ssm_fail(err, SSM_EDATA, "loss %s: the batch has no real-valued targets",
                        loss_kind_name(l->kind));
    return SSM_OK;
}

void loss_forward(const loss_spec *l, double *loss, real *losses, real *probs, const real *out,
                  const ssm_targets *t, int64_t B, int64_t K) {
    double s = 0;
    if (l->kind == LOSS_CE) {
        cross_entropy_forward(losses, probs, out, t->cls, B, K, (real)l->smoothing);
        for (int64_t i = 0; i < B; i++)
            s += losses[i];
        *loss = s / (double)B;
        return;
    }
    // In double, element by element: the numbers the forecasting code always gave.
    for (int64_t i = 0; i < B * K; i++) {
        double d = (double)out[i] - (double)t->values[i];
        s += l->kind == LOSS_MAE ? fabs(d) : d * d;
    }
    *loss = s / (double)(B * K);
}

void loss_backward(const loss_spec *l, real *dout, real *dloss, const real *probs,
                   const real *out, const ssm_targets *t, int64_t B, int64_t K) {
    if (l->kind == LOSS_CE) {
        for (int64_t i = 0; i < B; i++)
            dloss[i] = (real)(1.0 / (double)B);
        cross_entropy_backward(dout, dloss, probs, t->cls, B, K, (real)l->smoothing);
        return;
    }
    double inv = 1.0 / (double)(B * K);
    for (int64_t i = 0; i < B * K; i++) {
        double d = (double)out[i] - (double)t->values[i];
        dout[i] += (real)(l->kind == LOSS_MAE ? (d > 0 ? inv : d < 0 ? -inv : 0) : 2 * d * inv);
    }
}
