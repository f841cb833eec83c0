// defines: train_summary, train_classify, evaluate_classify
// The classification loop (DESIGN.md "Tasks"): AdamW with decoupled weight
// decay (none on norms, biases, A_log, D, positions, class tokens), linear
// warmup then cosine, global-norm clipping, label smoothing, evaluation on
// validation each epoch, best/last checkpoints, early stopping by patience,
// exact resume from last.safetensors, and a final test evaluation of the best
// checkpoint. Writes metrics.jsonl (docs/runs.md lists its keys).
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/metadata.h"
#include "datasets/batch.h"
#include "tasks/classify_model.h"
#include "tasks/metrics.h"

typedef struct {
    int64_t steps, epochs_done;
    double best_val_accuracy; // NaN without validation
    int64_t best_step;
    double test_accuracy, test_top5, test_macro_f1, test_loss; // NaN without test
    double train_seconds, samples_per_second;
    int stopped_early;
} train_summary;

typedef struct {
    const ssm_config *cfg;       // resolved config
    const char *run_dir;         // exists; receives metrics.jsonl, checkpoints, confusion CSV
    const char *config_yaml;     // stored in checkpoint metadata
    int resume;                  // continue from run_dir/last.safetensors
    const char *const *class_names; // [num_classes] or NULL
    const ssm_metadata *extra_meta; // copied into every checkpoint (data statistics, class names)
    int64_t kill_at_step;        // testing aid: raise SIGKILL right after this step (0 = off)
} train_options;

ssm_code train_classify(classify_model *m, ssm_batcher *train, ssm_batcher *val, ssm_batcher *test,
                        const train_options *o, train_summary *s, ssm_error *err);

// One pass over bt (from its current position to the end of the epoch):
// metrics accumulate into cm (reset by the caller); *loss is the mean CE
// without smoothing.
ssm_code evaluate_classify(classify_model *m, ssm_batcher *bt, class_metrics *cm, double *loss,
                           ssm_error *err);
