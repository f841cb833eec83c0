// defines: pool_tokens_forward, pool_tokens_backward, ssm_head_pool_index (see pool.h)
#include "tasks/pool.h"

#include <stdio.h>
#include <string.h>


void pool_tokens_forward(real *out, const real *inp, int64_t cls_index, int64_t B, int64_t L,
                         int64_t D) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        real *o = out + (size_t)b * D;
        const real *x = inp + (size_t)b * L * D;
        if (cls_index >= 0) {
            memcpy(o, x + (size_t)cls_index * D, (size_t)D * sizeof(real));
            continue;
        }
        // Sum in the order of l, then scale: the same numbers on every thread count.
        for (int64_t d = 0; d < D; d++)
            o[d] = 0;
        for (int64_t l = 0; l < L; l++)
            for (int64_t d = 0; d < D; d++)
                o[d] += x[l * D + d];
        real inv = (real)1 / (real)L;
        for (int64_t d = 0; d < D; d++)
            o[d] *= inv;
    }
}

void pool_tokens_backward(real *dinp, const real *dout, int64_t cls_index, int64_t B, int64_t L,
                          int64_t D) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        const real *g = dout + (size_t)b * D;
        real *dx = dinp + (size_t)b * L * D;
        if (cls_index >= 0) {
            for (int64_t d = 0; d < D; d++)
                dx[cls_index * D + d] += g[d];
            continue;
        }
        real inv = (real)1 / (real)L;
        for (int64_t l = 0; l < L; l++)
            for (int64_t d = 0; d < D; d++)
                dx[l * D + d] += g[d] * inv;
    }
}

ssm_code ssm_head_pool_index(const ssm_head_input *in, ssm_head_pool pool, const char *head,
                             int64_t *index, ssm_error *err) {
    *index = -1;
    if (pool == SSM_HEAD_POOL_MEAN)
        return SSM_OK;
    if (in->S > 1)
        return ssm_fail(err, SSM_ECONFIG,
                        "head %s: adapter %s makes %lld sequences per sample: pool by the mean "
                        "(task.pool: mean)", head, in->adapter, (long long)in->S);
    if (pool == SSM_HEAD_POOL_LAST) {
        *index = in->L - 1;
        return SSM_OK;
    }
    if (in->cls_index >= 0 && in->cls_blind)
        return ssm_fail(err, SSM_ECONFIG,
                        "head %s: task.pool cls reads the class token, and adapter %s reads it "
                        "first in every scan order, where a forward scan shows it no other "
                        "token: every sample would get the same output. List a reversed order "
                        "too (adapter.orders: e.g. [row, reverse]), put the token in the middle "
                        "(adapter.cls_token: middle), or pool the mean (task.pool: mean)",
                        head, in->adapter);
    // No class token: the mean (the config refuses task.pool cls without one; a model
    // built by hand keeps the old rule of pooling the mean then).
    *index = in->cls_index;
    return SSM_OK;
}
