// defines: adamw_update, grad_global_norm, grad_clip (see optim.h)
#include "kernels/optim.h"

#include <math.h>

#include "kernels/cpu_math.h"

// grad_global_norm sums NORM_PARTS fixed contiguous parts of the buffer, each
// sequentially in double, then the parts in order. The split depends only on
// n, never on the thread count, so the norm is the same bits on any machine
// with any OMP_NUM_THREADS, and needs only a stack array. 256 parts keep up
// to 256 threads busy on a memory-bound sweep.
#define NORM_PARTS 256

void adamw_update(real *p, const real *g, real *m, real *v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int64_t t) {
    // bias corrections in double once; as torch: step_size = lr / bc1 and
    // denom = sqrt(v) / sqrt(bc2) + eps
    double bc1 = 1.0 - pow((double)beta1, (double)t), bc2 = 1.0 - pow((double)beta2, (double)t);
    real step = (real)((double)lr / bc1), rbc2 = (real)(1.0 / sqrt(bc2));
    real decay = (real)(1.0 - (double)lr * (double)weight_decay);
    real b1 = beta1, b2 = beta2, e = eps;
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        real gi = g[i];
        real mi = b1 * m[i] + ((real)1 - b1) * gi;
        real vi = b2 * v[i] + ((real)1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (r_sqrt(vi) * rbc2 + e);
    }
}

double grad_global_norm(const real *g, int64_t n) {
    if (n <= 0)
        return 0;
    double part[NORM_PARTS];
    int64_t chunk = (n + NORM_PARTS - 1) / NORM_PARTS;
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t k = 0; k < NORM_PARTS; k++) {
        int64_t i0 = k * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
        double s = 0;
        for (int64_t i = i0; i < i1; i++)
            s += (double)g[i] * g[i];
        part[k] = s;
    }
    double s = 0;
    for (int k = 0; k < NORM_PARTS; k++)
        s += part[k];
    return sqrt(s);
}

// A NaN or infinite norm is returned as is and g left alone: scaling would
// only spread the NaN; the caller decides to skip the step.
double grad_clip(real *g, int64_t n, double max_norm) {
    double norm = grad_global_norm(g, n);
    if (!(isfinite(norm) && norm > max_norm))
        return norm;
    real s = (real)(max_norm / norm);
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        g[i] *= s;
    return norm;
}
