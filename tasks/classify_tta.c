// defines: the test-time augmentation of the classify evaluation (see classify_tta.h)
#include "tasks/classify_tta.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/augment.h"

#define VOTE_STREAM 0x766f7465ull // "vote": the copies' keys

ssm_code classify_tta_parse(const char *s, classify_tta_kind *kind, int64_t *votes,
                            ssm_error *err) {
    *kind = CLASSIFY_TTA_NONE;
    *votes = 0;
    if (!s || !*s || !strcmp(s, "none"))
        return SSM_OK;
    if (!strcmp(s, "hflip")) {
        *kind = CLASSIFY_TTA_HFLIP;
        return SSM_OK;
    }
    if (!strncmp(s, "vote:", 5)) {
        char *end = NULL;
        long v = strtol(s + 5, &end, 10);
        if (end != s + 5 && !*end && v >= 1 && v <= 100) {
            *kind = CLASSIFY_TTA_VOTE;
            *votes = v;
            return SSM_OK;
        }
    }
    return ssm_fail(err, SSM_ECONFIG, "task.tta: '%s'; known: none, hflip, vote:N (N = 1..100)",
                    s);
}

ssm_code classify_tta_init(classify_tta *t, const ssm_config *cfg, const ssm_input_shape *in,
                           int64_t B_max, int64_t V, ssm_error *err) {
    memset(t, 0, sizeof *t);
    SSM_TRY(classify_tta_parse(cfg->task.tta, &t->kind, &t->votes, err));
    if (t->kind == CLASSIFY_TTA_NONE)
        return SSM_OK;
    if (t->kind == CLASSIFY_TTA_HFLIP) {
        if (in->ndim != 3)
            return ssm_fail(err, SSM_ECONFIG, "task.tta: hflip mirrors images, but this data gives "
                            "%d-dimensional samples (expected [C, H, W]); set task.tta: none",
                            in->ndim);
        t->C = in->dims[0], t->H = in->dims[1], t->W = in->dims[2];
    } else {
        if (in->ndim != 2 || in->dims[1] < 3)
            return ssm_fail(err, SSM_ECONFIG, "task.tta: %s votes over augmented point clouds, but "
                            "this data's samples are not clouds [points, C >= 3]; set task.tta: "
                            "none", cfg->task.tta);
        t->aug = (pc_augment){.scale_translate = cfg->data.augment.scale_translate,
                              .rotate_up = cfg->data.augment.rotate_up};
        if (!t->aug.scale_translate && !t->aug.rotate_up)
            return ssm_fail(err, SSM_ECONFIG, "task.tta: %s augments each copy as training did, "
                            "but neither data.augment.scale_translate nor rotate_up is on",
                            cfg->task.tta);
        t->H = in->dims[0], t->C = in->dims[1], t->W = 1;
    }
    t->n = t->C * t->H * t->W;
    t->B_max = B_max, t->V = V;
    t->x_aug = malloc((size_t)(B_max * t->n) * sizeof(real));
    t->logits = malloc((size_t)(B_max * V) * sizeof(real));
    if (!t->x_aug || !t->logits) {
        classify_tta_free(t);
        return ssm_fail(err, SSM_ENOMEM, "task.tta: out of memory for an augmented batch of %lld",
                        (long long)B_max);
    }
    return SSM_OK;
}

uint64_t classify_tta_vote_key(int64_t v, int64_t b) {
    return ssm_seed_derive(ssm_seed_derive(VOTE_STREAM, (uint64_t)v), (uint64_t)b);
}

void classify_tta_free(classify_tta *t) {
    free(t->x_aug);
    free(t->logits);
    memset(t, 0, sizeof *t);
}

ssm_code classify_predict_tta(ssm_model *m, classify_tta *t, const real *x_host, int64_t B,
                              const real **logits, ssm_error *err) {
    if (!t || t->kind == CLASSIFY_TTA_NONE)
        return model_predict(m, x_host, B, logits, err);
    if (B > t->B_max)
        return ssm_fail(err, SSM_EINVAL, "task.tta: batch of %lld above the planned %lld",
                        (long long)B, (long long)t->B_max);
    const real *lg;
    const int64_t n = t->n, copies = t->kind == CLASSIFY_TTA_HFLIP ? 2 : t->votes;
    memset(t->logits, 0, (size_t)(B * t->V) * sizeof(real));
    for (int64_t v = 0; v < copies; v++) {
        const real *x = x_host;
        if (t->kind == CLASSIFY_TTA_HFLIP && v == 1) {
            for (int64_t b = 0; b < B; b++)
                ssm_image_hflip(t->x_aug + b * n, x_host + b * n, t->C, t->H, t->W);
            x = t->x_aug;
        } else if (t->kind == CLASSIFY_TTA_VOTE) {
            memcpy(t->x_aug, x_host, (size_t)(B * n) * sizeof(real));
            for (int64_t b = 0; b < B; b++)
                pc_augment_apply(t->x_aug + b * n, NULL, t->H, t->C, &t->aug,
                                 classify_tta_vote_key(v, b));
            x = t->x_aug;
        }
        SSM_TRY(model_predict(m, x, B, &lg, err));
        for (int64_t i = 0; i < B * t->V; i++)
            t->logits[i] += lg[i];
    }
    for (int64_t i = 0; i < B * t->V; i++)
        t->logits[i] = (real)(t->logits[i] / (double)copies);
    *logits = t->logits;
    return SSM_OK;
}
