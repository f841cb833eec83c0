// defines: classify_tta, classify_tta_kind, classify_tta_parse, classify_tta_init,
//          classify_tta_free, classify_predict_tta, classify_tta_vote_key
// Test-time augmentation of the classify evaluation (task.tta), evaluation only
// (validation, test, `ssmkit eval`); training and `predict` are unchanged:
//   none     the plain logits
//   hflip    images: the mean of the logits of an image and of its horizontal mirror, the
//            flip the training augmentation used (data.augment.hflip)
//   vote:N   point clouds (Point-MAE / PointMamba's voting): the mean of the logits of N
//            copies of each cloud, copy v under the training augmentation of the recipe
//            (data.augment.scale_translate and / or rotate_up) drawn from the key of
//            (v, the cloud's place in the batch: classify_tta_vote_key), so an evaluation
//            is reproducible
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "core/config.h"
#include "core/error.h"
#include "datasets/pc_augment.h"
#include "tasks/model.h"

typedef enum { CLASSIFY_TTA_NONE = 0, CLASSIFY_TTA_HFLIP, CLASSIFY_TTA_VOTE } classify_tta_kind;

typedef struct {
    classify_tta_kind kind;
    int64_t votes;      // vote: N
    pc_augment aug;     // vote: the copies' augmentation
    int64_t n;          // values of one sample
    int64_t C, H, W;    // hflip: one image [C, H, W]; vote: P = H points of C values
    int64_t B_max, V;
    real *x_aug;        // [B_max, n] the mirrored / augmented batch
    real *logits;       // [B_max, V] the averaged logits
} classify_tta;

// task.tta's text: none, hflip, vote:N (N = 1..100); else SSM_ECONFIG naming the value.
ssm_code classify_tta_parse(const char *s, classify_tta_kind *kind, int64_t *votes,
                            ssm_error *err);

// From cfg->task.tta (and, for vote, cfg->data.augment). hflip needs image inputs ([C, H, W]),
// vote point clouds ([points, C >= 3]) and a scale_translate or rotate_up augmentation:
// SSM_ECONFIG otherwise.
ssm_code classify_tta_init(classify_tta *t, const ssm_config *cfg, const ssm_input_shape *in,
                           int64_t B_max, int64_t V, ssm_error *err);
void classify_tta_free(classify_tta *t);

// The augmentation key (pc_augment_apply) of copy v of the b-th cloud of a batch.
uint64_t classify_tta_vote_key(int64_t v, int64_t b);

// Host x [B, <input>] in, *logits [B, V] out (host): model_predict, or the mean over the
// augmented copies.
ssm_code classify_predict_tta(ssm_model *m, classify_tta *t, const real *x_host, int64_t B,
                              const real **logits, ssm_error *err);
