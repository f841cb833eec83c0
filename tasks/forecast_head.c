// defines: the forecast head and losses (see forecast_head.h)
#include "tasks/forecast_head.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/linear.h"

ssm_code forecast_head_declare(forecast_head *h, ssm_params *p, const char *prefix, int64_t G,
                               int64_t F, int64_t H, ssm_error *err) {
    memset(h, 0, sizeof *h);
    if (G < 1 || F < 1 || H < 1)
        return ssm_fail(err, SSM_EINVAL, "forecast head: %lld groups of %lld features to %lld steps",
                        (long long)G, (long long)F, (long long)H);
    h->G = G;
    h->F = F;
    h->H = H;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%shead.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){H, F}, 0, &h->w_idx, err));
    snprintf(name, sizeof name, "%shead.bias", prefix);
    return ssm_params_add(p, name, 1, (int64_t[]){H}, SSM_PARAM_NO_DECAY, &h->b_idx, err);
}

void forecast_head_init_params(forecast_head *h, ssm_params *p, ssm_rng *rng) {
    double bound = 1 / sqrt((double)h->F);
    real *w = ssm_params_data(p, h->w_idx), *b = ssm_params_data(p, h->b_idx);
    for (int64_t i = 0; i < h->H * h->F; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < h->H; i++)
        b[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

void forecast_head_forward(const forecast_head *h, const ssm_params *p, real *yn, real *tmp,
                           const real *feats, int64_t B) {
    int64_t G = h->G, H = h->H;
    linear_forward(tmp, feats, ssm_params_data(p, h->w_idx), ssm_params_data(p, h->b_idx), B * G,
                   h->F, H);
    for (int64_t b = 0; b < B; b++) // [B, G, H] -> [B, H, G]
        for (int64_t g = 0; g < G; g++)
            for (int64_t t = 0; t < H; t++)
                yn[((size_t)b * H + t) * G + g] = tmp[((size_t)b * G + g) * H + t];
}

void forecast_head_backward(const forecast_head *h, ssm_params *p, real *dfeats, real *tmp,
                            const real *dyn, const real *feats, int64_t B) {
    int64_t G = h->G, H = h->H;
    for (int64_t b = 0; b < B; b++)
        for (int64_t g = 0; g < G; g++)
            for (int64_t t = 0; t < H; t++)
                tmp[((size_t)b * G + g) * H + t] = dyn[((size_t)b * H + t) * G + g];
    linear_backward(dfeats, ssm_params_grad(p, h->w_idx), ssm_params_grad(p, h->b_idx), tmp, feats,
                    ssm_params_data(p, h->w_idx), B * G, h->F, H);
}

double forecast_loss_forward(const real *pred, const real *y, int64_t B, int64_t H, int64_t G,
                             int64_t Vout, int mae) {
    double s = 0;
    for (int64_t r = 0; r < B * H; r++)
        for (int64_t j = 0; j < Vout; j++) {
            double d = (double)pred[r * G + G - Vout + j] - (double)y[r * Vout + j];
            s += mae ? fabs(d) : d * d;
        }
    return s / (double)(B * H * Vout);
}

void forecast_loss_backward(real *dpred, const real *pred, const real *y, int64_t B, int64_t H,
                            int64_t G, int64_t Vout, int mae) {
    double inv = 1.0 / (double)(B * H * Vout);
    for (int64_t r = 0; r < B * H; r++)
        for (int64_t j = 0; j < Vout; j++) {
            size_t i = (size_t)r * G + G - Vout + j;
            double d = (double)pred[i] - (double)y[r * Vout + j];
            dpred[i] += (real)(mae ? (d > 0 ? inv : d < 0 ? -inv : 0) : 2 * d * inv);
        }
}

void forecast_errors(double *sse, double *sae, double *sse_orig, double *sae_orig, const real *pred,
                     const real *y, const double *std, int64_t B, int64_t H, int64_t G,
                     int64_t Vout) {
    for (int64_t r = 0; r < B * H; r++)
        for (int64_t j = 0; j < Vout; j++) {
            double d = (double)pred[r * G + G - Vout + j] - (double)y[r * Vout + j];
            double s = std ? std[j] : 1.0;
            *sse += d * d;
            *sae += fabs(d);
            *sse_orig += d * d * s * s;
            *sae_orig += fabs(d) * s;
        }
}
