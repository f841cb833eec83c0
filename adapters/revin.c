// defines: reversible instance normalisation (see revin.h)
#include "adapters/revin.h"

#include "core/device_select.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#if SSM_HAVE_CUDA
#include "adapters/cuda/series.h"
#include "core/cuda/try.h"
#endif

ssm_code ssm_revin_declare(ssm_revin *r, ssm_params *p, const char *prefix, int64_t T, int64_t V,
                           int affine, ssm_error *err) {
    memset(r, 0, sizeof *r);
    r->T = T;
    r->V = V;
    r->affine = affine;
    if (!affine)
        return SSM_OK;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%srevin.affine_weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 1, (int64_t[]){V}, SSM_PARAM_NO_DECAY, &r->w_idx, err));
    snprintf(name, sizeof name, "%srevin.affine_bias", prefix);
    SSM_TRY(ssm_params_add(p, name, 1, (int64_t[]){V}, SSM_PARAM_NO_DECAY, &r->c_idx, err));
    return SSM_OK;
}

void ssm_revin_init_params(ssm_revin *r, ssm_params *p) {
    if (!r->affine)
        return;
    real *w = ssm_params_data(p, r->w_idx), *c = ssm_params_data(p, r->c_idx);
    for (int64_t v = 0; v < r->V; v++) {
        w[v] = 1;
        c[v] = 0;
    }
}

void ssm_revin_plan(ssm_revin *r, ssm_arena *a, int64_t B_max) {
    r->B_max = B_max;
    r->mean = ssm_arena_take(a, (size_t)B_max * r->V * sizeof(real));
    r->std = ssm_arena_take(a, (size_t)B_max * r->V * sizeof(real));
}

// Two passes in double: the windows are short but their level may be large
// next to their spread (a temperature of 30 +- 0.5).
void ssm_revin_stats(real *mean, real *std, const real *x, int64_t B, int64_t T, int64_t V) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++) {
            const real *xb = x + (size_t)b * T * V + v;
            double s = 0, q = 0;
            for (int64_t t = 0; t < T; t++)
                s += xb[t * V];
            double mu = s / (double)T;
            for (int64_t t = 0; t < T; t++) {
                double d = xb[t * V] - mu;
                q += d * d;
            }
            mean[b * V + v] = (real)mu;
            std[b * V + v] = (real)sqrt(q / (double)T + SSM_REVIN_EPS);
        }
}

void ssm_revin_norm_forward(ssm_revin *r, const ssm_params *p, real *xn, const real *x, int64_t B) {
    int64_t T = r->T, V = r->V;
    ssm_revin_stats(r->mean, r->std, x, B, T, V);
    const real *w = r->affine ? ssm_params_data(p, r->w_idx) : NULL;
    const real *c = r->affine ? ssm_params_data(p, r->c_idx) : NULL;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t v = 0; v < V; v++) {
                size_t i = ((size_t)b * T + t) * V + v;
                real z = (x[i] - r->mean[b * V + v]) / r->std[b * V + v];
                xn[i] = w ? z * w[v] + c[v] : z;
            }
}

void ssm_revin_norm_backward(const ssm_revin *r, ssm_params *p, const real *dxn, const real *x,
                             int64_t B) {
    if (!r->affine)
        return;
    int64_t T = r->T, V = r->V;
    real *dw = ssm_params_grad(p, r->w_idx), *dc = ssm_params_grad(p, r->c_idx);
    // Serial over b: V is small and the sums must land in one place.
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++) {
            const real *xb = x + (size_t)b * T * V + v, *gb = dxn + (size_t)b * T * V + v;
            double s = 0, q = 0;
            for (int64_t t = 0; t < T; t++)
                s += xb[t * V];
            double mu = s / (double)T;
            for (int64_t t = 0; t < T; t++)
                q += (xb[t * V] - mu) * (xb[t * V] - mu);
            double sd = sqrt(q / (double)T + SSM_REVIN_EPS);
            double gw = 0, gc = 0;
            for (int64_t t = 0; t < T; t++) {
                gw += gb[t * V] * ((xb[t * V] - mu) / sd);
                gc += gb[t * V];
            }
            dw[v] += (real)gw;
            dc[v] += (real)gc;
        }
}

void ssm_revin_denorm_forward(const ssm_revin *r, const ssm_params *p, real *y, const real *yn,
                              int64_t B, int64_t H) {
    int64_t V = r->V;
    const real *w = r->affine ? ssm_params_data(p, r->w_idx) : NULL;
    const real *c = r->affine ? ssm_params_data(p, r->c_idx) : NULL;
    const real eps2 = (real)(SSM_REVIN_EPS * SSM_REVIN_EPS);
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t v = 0; v < V; v++) {
                size_t i = ((size_t)b * H + h) * V + v;
                real z = w ? (yn[i] - c[v]) / (w[v] + eps2) : yn[i];
                y[i] = z * r->std[b * V + v] + r->mean[b * V + v];
            }
}

void ssm_revin_denorm_backward(const ssm_revin *r, ssm_params *p, real *dyn, const real *dy,
                               const real *yn, int64_t B, int64_t H) {
    int64_t V = r->V;
    const real *w = r->affine ? ssm_params_data(p, r->w_idx) : NULL;
    const real *c = r->affine ? ssm_params_data(p, r->c_idx) : NULL;
    const real eps2 = (real)(SSM_REVIN_EPS * SSM_REVIN_EPS);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t v = 0; v < V; v++) {
                size_t i = ((size_t)b * H + h) * V + v;
                real g = dy[i] * r->std[b * V + v]; // d loss / d z
                if (!w) {
                    dyn[i] += g;
                    continue;
                }
                real inv = 1 / (w[v] + eps2);
                dyn[i] += g * inv;
                ssm_params_grad(p, r->c_idx)[v] -= g * inv;
                ssm_params_grad(p, r->w_idx)[v] -= g * (yn[i] - c[v]) * inv * inv;
            }
}

#if SSM_HAVE_CUDA
static const real *affine_w(const ssm_revin *r, const ssm_params *p) {
    return r->affine ? ssm_params_data(p, r->w_idx) : NULL;
}
static const real *affine_c(const ssm_revin *r, const ssm_params *p) {
    return r->affine ? ssm_params_data(p, r->c_idx) : NULL;
}

ssm_code ssm_revin_norm_forward_cuda(ssm_revin *r, const ssm_params *p, real *xn, const real *x,
                                     int64_t B, ssm_error *err) {
    SSM_CUDA_TRY(revin_norm_forward_cuda(xn, r->mean, r->std, x, affine_w(r, p), affine_c(r, p), B,
                                         r->T, r->V), err);
    return SSM_OK;
}

ssm_code ssm_revin_norm_backward_cuda(const ssm_revin *r, ssm_params *p, const real *dxn,
                                      const real *x, int64_t B, ssm_error *err) {
    if (!r->affine)
        return SSM_OK;
    SSM_CUDA_TRY(revin_norm_backward_cuda(ssm_params_grad(p, r->w_idx), ssm_params_grad(p, r->c_idx),
                                          dxn, x, B, r->T, r->V), err);
    return SSM_OK;
}

ssm_code ssm_revin_denorm_forward_cuda(const ssm_revin *r, const ssm_params *p, real *y,
                                       const real *yn, int64_t B, int64_t H, ssm_error *err) {
    SSM_CUDA_TRY(revin_denorm_forward_cuda(y, yn, r->mean, r->std, affine_w(r, p), affine_c(r, p),
                                           B, H, r->V), err);
    return SSM_OK;
}

ssm_code ssm_revin_denorm_backward_cuda(const ssm_revin *r, ssm_params *p, real *dyn,
                                        const real *dy, const real *yn, int64_t B, int64_t H,
                                        ssm_error *err) {
    real *dw = r->affine ? ssm_params_grad(p, r->w_idx) : NULL;
    real *dc = r->affine ? ssm_params_grad(p, r->c_idx) : NULL;
    SSM_CUDA_TRY(revin_denorm_backward_cuda(dyn, dw, dc, dy, yn, r->std, affine_w(r, p),
                                            affine_c(r, p), B, H, r->V), err);
    return SSM_OK;
}
#endif
