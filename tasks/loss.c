// defines: the training losses (see loss.h)
#include "tasks/loss.h"

#include <math.h>

#include "kernels/loss.h"

const char *loss_kind_name(loss_kind k) {
    return k == LOSS_CE ? "ce" : k == LOSS_MSE ? "mse" : k == LOSS_MAE ? "mae"
         : k == LOSS_BCE ? "bce" : "?";
}

// Soft labels: every row a distribution (mixup's lambda and 1 - lambda, or any other).
static ssm_code check_soft(const real *q, int64_t B, int64_t K, ssm_error *err) {
    for (int64_t i = 0; i < B; i++) {
        double s = 0;
        for (int64_t j = 0; j < K; j++) {
            double v = q[i * K + j];
            if (!(v >= 0))
                return ssm_fail(err, SSM_EDATA, "soft label of batch sample %lld, class %lld is "
                                "%g, expected a probability >= 0", (long long)i, (long long)j, v);
            s += v;
        }
        if (fabs(s - 1) > 1e-3)
            return ssm_fail(err, SSM_EDATA, "the soft labels of batch sample %lld sum to %g, "
                            "expected 1", (long long)i, s);
    }
    return SSM_OK;
}

ssm_code loss_check_targets(const loss_spec *l, const ssm_targets *t, int64_t B, int64_t K,
                            ssm_error *err) {
    if (l->kind == LOSS_CE) {
        if (!t->cls && t->values)
            return check_soft(t->values, B, K, err);
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
    if (l->kind == LOSS_BCE)
        for (int64_t i = 0; i < B * K; i++)
            if (!(t->values[i] >= 0 && t->values[i] <= 1))
                return ssm_fail(err, SSM_EDATA, "target of batch sample %lld, class %lld is %g; "
                                "loss bce expects values in [0, 1] (multi-hot labels)",
                                (long long)(i / K), (long long)(i % K), (double)t->values[i]);
    return SSM_OK;
}

void loss_forward(const loss_spec *l, double *loss, real *losses, real *probs, const real *out,
                  const ssm_targets *t, int64_t B, int64_t K) {
    double s = 0;
    if (l->kind == LOSS_CE) {
        if (t->cls)
            cross_entropy_forward(losses, probs, out, t->cls, B, K, (real)l->smoothing);
        else
            soft_cross_entropy_forward(losses, probs, out, t->values, B, K, (real)l->smoothing);
        for (int64_t i = 0; i < B; i++)
            s += losses[i];
        *loss = s / (double)B;
        return;
    }
    if (l->kind == LOSS_BCE) {
        bce_logits_forward(losses, out, t->values, B * K);
        for (int64_t i = 0; i < B * K; i++)
            s += losses[i];
        *loss = s / (double)(B * K);
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
        if (t->cls)
            cross_entropy_backward(dout, dloss, probs, t->cls, B, K, (real)l->smoothing);
        else
            soft_cross_entropy_backward(dout, dloss, probs, t->values, B, K, (real)l->smoothing);
        return;
    }
    double inv = 1.0 / (double)(B * K);
    if (l->kind == LOSS_BCE) {
        for (int64_t i = 0; i < B * K; i++)
            dloss[i] = (real)inv;
        bce_logits_backward(dout, dloss, out, t->values, B * K);
        return;
    }
    for (int64_t i = 0; i < B * K; i++) {
        double d = (double)out[i] - (double)t->values[i];
        dout[i] += (real)(l->kind == LOSS_MAE ? (d > 0 ? inv : d < 0 ? -inv : 0) : 2 * d * inv);
    }
}
