// defines: the classification head (see head.h)
#include "tasks/head.h"

#include <stdio.h>
#include <string.h>

#include "adapters/adapter.h"
#include "kernels/linear.h"

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

ssm_code class_head_declare(class_head *h, ssm_params *p, const char *prefix, int64_t d_model,
                            int64_t num_classes, int64_t cls_index, ssm_error *err) {
    memset(h, 0, sizeof *h);
    if (d_model <= 0 || num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG,
                        "classification head: d_model = %lld, num_classes = %lld, expected "
                        "d_model > 0 and at least 2 classes",
                        (long long)d_model, (long long)num_classes);
    h->d_model = d_model;
    h->num_classes = num_classes;
    h->cls_index = cls_index < 0 ? -1 : cls_index;
    char name[SSM_PARAM_NAME_MAX];
    if (!prefix)
        prefix = "";
    snprintf(name, sizeof name, "%shead.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){num_classes, d_model}, 0, &h->w_idx, err));
    snprintf(name, sizeof name, "%shead.bias", prefix);
    SSM_TRY(ssm_params_add(p, name, 1, (int64_t[]){num_classes}, SSM_PARAM_NO_DECAY, &h->b_idx,
                           err));
    return SSM_OK;
}

void class_head_init_params(class_head *h, ssm_params *p, ssm_rng *rng) {
    ssm_init_trunc_normal(ssm_params_data(p, h->w_idx), (size_t)(h->num_classes * h->d_model), rng,
                          .02, -2, 2);
    memset(ssm_params_data(p, h->b_idx), 0, (size_t)h->num_classes * sizeof(real));
}

ssm_code class_head_plan(class_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    if (B_max <= 0)
        return ssm_fail(err, SSM_EINVAL, "classification head: planned batch %lld, expected > 0",
                        (long long)B_max);
    h->B_max = B_max;
    h->pooled = ssm_arena_take(a, (size_t)(B_max * h->d_model) * sizeof(real));
    h->dpooled = ssm_arena_take(a, (size_t)(B_max * h->d_model) * sizeof(real));
    h->pooled_h = h->dlogits_h = NULL;
    if (h->bf16) { // 2-byte elements
        h->pooled_h = ssm_arena_take(a, (size_t)(B_max * h->d_model) * 2);
        h->dlogits_h = ssm_arena_take(a, (size_t)(B_max * h->num_classes) * 2);
    }
    return SSM_OK;
}

void class_head_forward(class_head *h, const ssm_params *p, real *logits, const real *tokens,
                        int64_t B, int64_t L) {
    pool_tokens_forward(h->pooled, tokens, h->cls_index, B, L, h->d_model);
    linear_forward(logits, h->pooled, ssm_params_data(p, h->w_idx), ssm_params_data(p, h->b_idx), B,
                   h->d_model, h->num_classes);
}

void class_head_backward(class_head *h, ssm_params *p, real *dtokens, const real *dlogits,
                         const real *tokens, int64_t B, int64_t L) {
    pool_tokens_forward(h->pooled, tokens, h->cls_index, B, L, h->d_model);
    memset(h->dpooled, 0, (size_t)(B * h->d_model) * sizeof(real));
    linear_backward(h->dpooled, ssm_params_grad(p, h->w_idx), ssm_params_grad(p, h->b_idx), dlogits,
                    h->pooled, ssm_params_data(p, h->w_idx), B, h->d_model, h->num_classes);
    pool_tokens_backward(dtokens, h->dpooled, h->cls_index, B, L, h->d_model);
}
