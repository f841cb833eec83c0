// defines: train_summary, train_classify, evaluate_classify
// Classification through the generic loop (tasks/train.h) with the classify
// task (tasks/task.h): kept as the entry point of callers that hold a
// classify_model. Checkpoint metadata and metrics.jsonl are the loop's.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/metadata.h"
#include "datasets/batch.h"
#include "tasks/classify_model.h"
#include "tasks/classify_tta.h"
#include "tasks/metrics.h"
#include "tasks/train.h"

typedef struct {
    int64_t steps, epochs_done;
    double best_val_accuracy; // NaN without validation
    int64_t best_step;
    double test_accuracy, test_top5, test_macro_f1, test_loss; // NaN without test
    double train_seconds, samples_per_second;
    int stopped_early;
} train_summary;

ssm_code train_classify(classify_model *m, ssm_batcher *train, ssm_batcher *val, ssm_batcher *test,
                        const train_options *o, train_summary *s, ssm_error *err);

// One pass over bt (from its current position to the end of the epoch):
// metrics accumulate into cm (reset by the caller); *loss is the mean CE
// without smoothing. tta (tasks/classify_tta.h) may be NULL: plain predictions.
ssm_code evaluate_classify(classify_model *m, classify_tta *tta, ssm_batcher *bt,
                           class_metrics *cm, double *loss, ssm_error *err);
