// defines: ssm_dropout_threshold, ssm_dropout_scale, dropout_apply (see dropout.h)
#include "kernels/dropout.h"

#include <math.h>
#include <string.h>

uint32_t ssm_dropout_threshold(double p) {
    if (!(p > 0))
        return 0;
    const double t = nearbyint(p * 4294967296.0);
    return t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
}

real ssm_dropout_scale(double p) { return (real)(1.0 / (1.0 - p)); }

void dropout_apply(real *out, const real *in, int64_t row0, int64_t rows, int64_t W,
                   const ssm_dropout_rows *m, uint32_t site, double p) {
    if (!(p > 0)) {
        if (out != in && rows > 0)
            memmove(out, in, (size_t)(rows * W) * sizeof(real));
        return;
    }
    const uint32_t thr = ssm_dropout_threshold(p);
    const real scale = ssm_dropout_scale(p);
    // a row at a time: its sample's base once, then one hash per element
#pragma omp parallel for schedule(static) if (rows * W > 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t within;
        const int64_t s = ssm_dropout_sample_of(m, row0 + r, &within);
        const uint64_t base = ssm_drop_base(m->key + (uint64_t)s * SSM_DROP_KEY_STEP, site);
        const uint64_t e0 = (uint64_t)(within * W);
        const real *x = in + r * W;
        real *y = out + r * W;
        for (int64_t w = 0; w < W; w++)
            y[w] = ssm_drop_hash(base, e0 + (uint64_t)w) < thr ? (real)0 : x[w] * scale;
    }
}
