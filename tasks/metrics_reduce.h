// defines: class_metrics_allreduce, value_metrics_allreduce, score_metrics_allgather,
//          metrics_allreduce_sum, multilabel_metrics_allgather, seg_metrics_allreduce,
//          metrics_allgather_rows
// The metric accumulators of tasks/metrics.h combined over data-parallel ranks
// (core/distributed.h), for a task's eval_reduce (tasks/task.h): after each rank has
// accumulated its range of the split, every rank holds the accumulator of the whole split.
// Counts are summed exactly (int64); double sums are summed in rank order's float
// arithmetic (equal to one process's up to the order of the additions); rank statistics
// (AUC) need every score, so scores are gathered, in rank order: with the split cut into
// contiguous ranges (SSM_SHARD_SPLIT) that is the split's own order. d may be NULL or
// inactive (one process): nothing changes.
#pragma once
#include <stdint.h>

#include "core/distributed.h"
#include "core/error.h"
#include "tasks/metrics.h"
#include "tasks/metrics_seg.h"

// The confusion matrix, n and top-k counts summed over the ranks.
ssm_code class_metrics_allreduce(class_metrics *m, const ssm_dist *d, ssm_error *err);
// The error sums and the row count summed over the ranks.
ssm_code value_metrics_allreduce(value_metrics *v, const ssm_dist *d, ssm_error *err);
// Every rank's probabilities and labels, concatenated in rank order (s grows to hold them).
ssm_code score_metrics_allgather(score_metrics *s, const ssm_dist *d, ssm_error *err);
// A task's own running sums: doubles sums [n_sums] and counts [n_counts] summed over the ranks
// (either array may be NULL with its count 0).
ssm_code metrics_allreduce_sum(const ssm_dist *d, double *sums, int n_sums, int64_t *counts,
                               int n_counts, ssm_error *err);
// Every rank's sigmoid probabilities and targets, concatenated in rank order (mAP and the
// AUC are rank statistics: they need every score).
ssm_code multilabel_metrics_allgather(multilabel_metrics *m, const ssm_dist *d, ssm_error *err);
// Part segmentation: the summed shape IoUs (all, per category), the shape counts (all, per
// category), the points and the correct points summed over the ranks. The mIoUs are means of
// shape IoUs, so these sums are all they need.
ssm_code seg_metrics_allreduce(seg_metrics *m, const ssm_dist *d, ssm_error *err);
// A task's own per-sample record: *buf holds *n rows of row_bytes (malloc'd); afterwards it
// holds every rank's rows in rank order (a new malloc'd array, NULL when no rank has a row;
// the old one freed) and *n their count. A caller tracking a capacity sets it to *n.
ssm_code metrics_allgather_rows(const ssm_dist *d, void **buf, int64_t *n, size_t row_bytes,
                                ssm_error *err);
