// defines: ssm_task, ssm_task_vtable, task_data_info
// A task (pluggable, like heads and adapters) is what the training loop
// (tasks/train.h) and the CLI need to know beyond the model: which head and which
// loss its model has, how a batch's targets reach the loss, its metrics and the one
// that picks the best checkpoint (and whether lower is better), an optional report
// after the test evaluation, and how `ssmkit predict` prints one sample's output.
// Every task has the same model (tasks/model.h) on every device.
//
//   classify  (tasks/task_classify.c) head class, loss ce; loss, accuracy, top5,
//             macro_f1; primary accuracy (higher); report confusion_test.csv
//   forecast  (tasks/task_forecast.c) head forecast, loss mse|mae; loss, mse, mae,
//             mse_orig, mae_orig; primary mse (or mae), lower
//   regress   (tasks/task_regress.c) head regress, loss mse; loss, mse, mae,
//             mse_orig, mae_orig; primary mse, lower
//   mil       (tasks/task_mil.c) head bag, loss ce; loss, accuracy, balanced_accuracy,
//             macro_f1, auc; primary loss, lower; report predictions_test.csv,
//             attention_test.csv
//   multilabel (tasks/task_multilabel.c) head class, loss bce; loss, mAP, auc, micro_f1,
//             mAP_classes; primary mAP (higher); report per_class_test.csv
//   segment   (tasks/task_segment.c) head segment, loss ce per point; loss, instance_miou,
//             class_miou, accuracy; primary instance_miou, higher; report miou_test.csv
// Adding a task = one tasks/task_<name>.c with a `const ssm_task_vtable
// ssm_task_<name>` + one line in tasks/task_registry.c (docs/adding-a-task.md).
// This header is what a task implements; the calls on a task (the registry,
// task_create, task_evaluate, ...) are tasks/task_run.h, a layer above.
//
// Layers of tasks/ (each calls only the ones below it; docs/design.md):
//   train.c, task_run.c, task_registry.c the loop, the calls on a task, the registry
//   task_<name>.c, classify_tta.c        the tasks
//   model.c, cuda/model_cuda.c, model_arrays.c   trunk + head + loss, on either device
//   (cuda/step_graph.c: the GPU step as a CUDA graph)
//   head_<name>.c, head_registry.c, loss.c   the heads and the losses
//   trunk.c, pool.c, metrics.c, ...      what they are built from
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "adapters/adapter.h"
#include "core/config.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/metadata.h"
#include "core/params.h"
#include "datasets/batch.h"
#include "tasks/metrics.h"
#include "tasks/model.h"
#include "tasks/train_device.h"
#include "tasks/trunk.h"

// What the data tells the task (datasets/*_data.h fill it through the CLI).
typedef struct {
    ssm_input_shape input;          // one sample: [C, H, W] images, [T, V] series
    int64_t num_classes;            // classify: classes in the data (0: unknown, trust the config)
    const char *const *class_names; // [num_classes] or NULL (confusion CSV header, predict)
    int64_t horizon, out_vars;      // series windows: H and target columns (the last out_vars of V)
    int64_t time_features;          // series windows: calendar columns before the variates of x
                                    // (data.time_features), handed to the adapter as its option
                                    // time_features; 0 without
    const double *out_std;          // [out_vars] the scaler's std of the targets, or NULL
    const char *const *test_sample_names; // names of the test source's samples by id (MIL
                                          // bags: slide ids), or NULL
    // Ragged data (bags): the rows of x a batch may hold (the batchers' max_tokens, resolved
    // from the data), handed to the ragged adapter as its option max_tokens; 0 for dense data.
    int64_t max_tokens;
    int coords;                     // each instance ends with 2 patch coordinates (option coords)
    // Part segmentation (segment): the parts in the data (logits per point, a class per point
    // in y_tokens) and each category's parts, {first part, count} per class of num_classes
    // (the categories: ShapeNetPart's 16), for the category-conditioned masking; 0 / NULL else.
    int64_t num_parts;
    const int32_t *part_range;      // [num_classes, 2]
} task_data_info;

typedef struct ssm_task ssm_task;

typedef struct {
    const char *name;    // registry key, the config's task.name
    const char *summary; // one line for listings
    // Cross-key checks of the config keys this task reads; *key = the key to blame.
    ssm_code (*check_config)(const ssm_config *c, const char **key, ssm_error *err);
    // The model this task trains: head name and options, loss. Checks the data fits.
    ssm_code (*configure)(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                          ssm_error *err);
    // After the model is built: the task's state (t->impl, allocated here once),
    // t->primary and t->lower_is_better.
    ssm_code (*init)(ssm_task *t, const ssm_config *c, const task_data_info *d, ssm_error *err);
    // The loss's targets of a host batch, as host pointers (into the batch or the task's
    // state): no allocation.
    ssm_code (*targets)(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err);
    // Evaluation: begin, one host batch at a time (the task runs the model: model_predict,
    // or its own test-time augmentation), end fills the named metrics.
    void (*eval_begin)(ssm_task *t);
    ssm_code (*eval_batch)(ssm_task *t, const ssm_batch *b, ssm_error *err);
    void (*eval_end)(ssm_task *t, task_metrics *out);
    // After the test evaluation (the last evaluate): extra files in run_dir. May be NULL.
    ssm_code (*test_report)(ssm_task *t, const char *run_dir, ssm_error *err);
    // `ssmkit predict`: one sample's outputs out [K] as tab-separated text (no newline);
    // top = --top K.
    void (*predict_line)(const ssm_task *t, FILE *f, const real *out, int top);
    void (*free_impl)(ssm_task *t); // frees t->impl (may be NULL)
    // Data-parallel evaluation (docs/distributed.md): after each rank's eval_batch calls over
    // its range of the split, combine the ranks' accumulators (tasks/metrics.h's reduce
    // helpers: sums of counts, gathered scores) so that eval_end then gives every rank the
    // metrics of the whole split. May be NULL: every rank then evaluates the whole split.
    ssm_code (*eval_reduce)(ssm_task *t, const ssm_dist *d, ssm_error *err);
} ssm_task_vtable;

struct ssm_task {
    const ssm_task_vtable *vt;
    ssm_model model;            // the model the task trains (owned)
    ssm_params *params;         // = &model.params: the checkpoints' master
    ssm_params *work;           // = model_params(&model): the table a step updates
    const train_device *dev;    // clipping, AdamW and the copies for work (tasks/train_device.h)
    const ssm_trunk *trunk;     // for the log line: tokens, width, branches, layers
    const char *primary;        // validation metric that picks best.safetensors
    int lower_is_better;
    const char *const *class_names; // from the data (may be NULL)
    void *impl;
    const ssm_dist *dist;       // the ranks training it together (NULL: one process)
};
