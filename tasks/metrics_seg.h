// defines: seg_metrics, seg_metrics_init, seg_metrics_free, seg_metrics_reset,
//          seg_metrics_add, seg_predict_masked, seg_shape_iou, seg_metrics_instance_miou,
//          seg_metrics_class_miou, seg_metrics_accuracy
// Part-segmentation metrics as ShapeNetPart reports them (PointNet++, Point-MAE,
// PointMamba's test code):
//   prediction   for each point, the argmax of its logits over the parts of the shape's
//                category only (category-conditioned label masking; ties to the lowest part)
//   shape IoU    the mean over the category's parts of |pred = p and label = p| /
//                |pred = p or label = p|, a part absent from both counting 1
//   instance mIoU  the mean of the shape IoUs over all shapes
//   class mIoU     the mean over categories (those with shapes) of their shapes' mean IoU
//   accuracy       correct points / points (the masked prediction)
// A category's parts are a range of global part ids {first, count} (ShapeNetPart: Airplane
// 0..3, Bag 4..5, ..., Table 47..49), given by the data.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef struct {
    int64_t n_cat;        // categories
    int64_t P;            // parts (logits per point)
    int32_t *range;       // [n_cat, 2] first part and part count of each category (a copy)
    double *cat_sum;      // [n_cat] summed shape IoUs per category
    int64_t *cat_n;       // [n_cat] shapes per category
    double iou_sum;       // summed shape IoUs
    int64_t shapes, points, correct;
    int32_t *pred;        // [N] scratch of one shape's prediction
    int64_t N;            // points per shape of that scratch (grown as needed)
} seg_metrics;

// range [n_cat, 2]: every category's parts within [0, P), count >= 1 (SSM_EINVAL naming
// the category otherwise).
ssm_code seg_metrics_init(seg_metrics *m, int64_t n_cat, const int32_t *range, int64_t P,
                          ssm_error *err);
void seg_metrics_free(seg_metrics *m);
void seg_metrics_reset(seg_metrics *m);

// pred [N] = for each point, the part in first..first+count-1 with the largest logit
// (logits [N, P]; ties to the lowest part).
void seg_predict_masked(int32_t *pred, const real *logits, int64_t N, int64_t P, int32_t first,
                        int32_t count);
// The shape IoU of pred against labels [N] over parts first..first+count-1 (see above).
double seg_shape_iou(const int32_t *pred, const int32_t *labels, int64_t N, int32_t first,
                     int32_t count);

// Adds B shapes: logits [B, N, P], cats [B], labels [B, N]. A category outside [0, n_cat),
// a label outside its category's parts or a NaN logit -> SSM_EDATA naming the shape (and
// the point); nothing of that batch is counted then.
ssm_code seg_metrics_add(seg_metrics *m, const real *logits, const int32_t *cats,
                         const int32_t *labels, int64_t B, int64_t N, ssm_error *err);

double seg_metrics_instance_miou(const seg_metrics *m); // NaN without shapes
double seg_metrics_class_miou(const seg_metrics *m);    // NaN without shapes
double seg_metrics_accuracy(const seg_metrics *m);      // NaN without points
