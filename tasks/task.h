// defines: ssm_task, ssm_task_vtable, task_metrics, task_metrics_set, task_metrics_get,
//          task_data_info, task_create, task_free, task_trunk_spec_from_config,
//          task_release, task_classify_wrap, task_classify_set_tta, task_forecast_wrap, TASK_MAX_METRICS,
//          task_load_checkpoint, task_save_checkpoint
// A task is what the training loop (tasks/train.h) needs to know of a model:
// a loss and its gradient on one batch, an evaluation pass that returns named
// metrics, which metric picks the best checkpoint (and whether lower is
// better), and an optional report written after the test evaluation. The loop
// itself (AdamW, schedule, clipping, checkpoints, resume, patience) is one
// piece of code for every task.
//
//   classify  (tasks/task_classify.c): classify_model; metrics loss, accuracy,
//             top5, macro_f1; primary accuracy (higher); report: confusion_test.csv
//   forecast  (tasks/task_forecast.c): forecast_model; metrics loss, mse, mae
//             (standardised scale) and mse_orig, mae_orig (original units);
//             primary mse (task.loss mse) or mae (task.loss mae), lower
// docs/tasks.md lists the metrics.jsonl keys.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "core/config.h"
#include "core/error.h"
#include "core/metadata.h"
#include "core/params.h"
#include "datasets/batch.h"
#include "tasks/classify_model.h"
#include "tasks/forecast_model.h"
#include "tasks/train_device.h"
#include "tasks/trunk.h"

#define TASK_MAX_METRICS 12
#define TASK_METRIC_KEY_MAX 24

typedef struct {
    int n;
    char key[TASK_MAX_METRICS][TASK_METRIC_KEY_MAX];
    double value[TASK_MAX_METRICS];
    int64_t samples; // samples evaluated
} task_metrics;

// Sets key (adds it at the end the first time; order = order of metrics.jsonl).
void task_metrics_set(task_metrics *m, const char *key, double v);
double task_metrics_get(const task_metrics *m, const char *key); // NaN when absent

typedef struct ssm_task ssm_task;

typedef struct {
    const char *name;
    // Forward, loss, backward on one batch (b is on the host; the task moves it to
    // its device): zeroes and fills t->work->grad; *loss is the batch's mean training loss.
    ssm_code (*loss_and_grad)(ssm_task *t, const ssm_batch *b, double *loss, ssm_error *err);
    // One pass over bt from its position to the end of the epoch; *out is reset first.
    ssm_code (*evaluate)(ssm_task *t, ssm_batcher *bt, task_metrics *out, ssm_error *err);
    // After the test evaluation (the last evaluate): extra files in run_dir. May be NULL.
    ssm_code (*test_report)(ssm_task *t, const char *run_dir, ssm_error *err);
    void (*free_impl)(ssm_task *t); // frees what the task owns (may be NULL)
} ssm_task_vtable;

struct ssm_task {
    const ssm_task_vtable *vt;
    ssm_params *params;         // the model's flat parameters on the host: the checkpoints' master
    ssm_params *work;           // the parameters a step updates: params itself on the CPU, its
                                // device mirror on a GPU
    const train_device *dev;    // clipping, AdamW and the copies for work (tasks/train_device.h)
    const ssm_trunk *trunk;     // for the log line: tokens, width, branches, layers
    const char *primary;        // validation metric that picks best.safetensors
    int lower_is_better;
    void *impl;
};

// What the data tells the task (datasets/*_data.h fill it through the CLI).
typedef struct {
    ssm_input_shape input;          // one sample: [C, H, W] images, [T, V] series
    int64_t num_classes;            // classify: classes in the data (0: unknown, trust the config)
    const char *const *class_names; // [num_classes] or NULL (confusion CSV header)
    int64_t horizon, out_vars;      // forecast: H and target columns (the last out_vars of V)
    const double *out_std;          // [out_vars] the scaler's std of the targets (original scale), or NULL
} task_data_info;

// The adapter and backbone the config describes, for inputs of shape `in`.
void task_trunk_spec_from_config(ssm_trunk_spec *s, const ssm_config *c, const ssm_input_shape *in);

// Builds the model task.name describes (initialised from run.seed) for batches
// of up to B_max samples, and the task around it; *out is malloc'd.
ssm_code task_create(ssm_task **out, const ssm_config *c, const task_data_info *d, int64_t B_max,
                     ssm_error *err);
void task_free(ssm_task *t); // frees the task and the model it built
void task_release(ssm_task *t); // frees a wrapped task's own state (not the model)

// ssm_checkpoint_load into t->params, then onto the task's device (t->work).
ssm_code task_load_checkpoint(ssm_task *t, const char *path, unsigned flags, ssm_metadata *meta,
                              ssm_error *err);
// The task's device (t->work) to t->params, then ssm_checkpoint_save.
ssm_code task_save_checkpoint(ssm_task *t, const char *path, unsigned flags,
                              const ssm_metadata *meta, ssm_error *err);

// A task (caller's struct) around a model the caller owns; task_release frees
// the task's own state, not the model. class_names may be NULL; out_std may
// be NULL (then the original scale is the standardised one).
// task.tta for a classify task (after task_classify_wrap): hflip averages the logits
// of each image and its mirror in evaluate; images only (SSM_ECONFIG otherwise).
ssm_code task_classify_set_tta(ssm_task *t, int hflip, const ssm_input_shape *in, ssm_error *err);
ssm_code task_classify_wrap(ssm_task *t, classify_model *m, const char *const *class_names,
                            ssm_error *err);
ssm_code task_forecast_wrap(ssm_task *t, forecast_model *m, const double *out_std, ssm_error *err);
