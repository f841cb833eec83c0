// defines: task_trunk_spec_from_config, task_create, task_free, task_loss_and_grad, task_batch_layout,
//          task_train_step_graph, task_evaluate, task_load_checkpoint, task_save_checkpoint
// The calls on a task (tasks/task.h), for the training loop and the CLI (with the
// registry, tasks/task_registry.h): what every task shares (tasks/task_run.c:
// building a task and its model from a config, a training step's loss and gradient,
// an evaluation pass, checkpoints). They reach a task only through its vtable.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/metadata.h"
#include "datasets/batch.h"
#include "tasks/task.h"
#include "tasks/task_registry.h"

// ---- the generic task calls (tasks/task.c) -------------------------------------------
// The adapter and backbone the config describes, for inputs of shape `in`.
void task_trunk_spec_from_config(ssm_trunk_spec *s, const ssm_config *c, const ssm_input_shape *in);

// Builds the task task.name names and its model (initialised from run.seed) for batches
// of up to B_max samples on run.device; *out is malloc'd.
ssm_code task_create(ssm_task **out, const ssm_config *c, const task_data_info *d, int64_t B_max,
                     ssm_error *err);
void task_free(ssm_task *t); // the task and its model

// One training step's forward, loss and backward on a host batch (moved to the model's
// device): zeroes and fills t->work->grad; *loss is the batch's training loss.
// A ragged batch's packing onto the model (model_set_packing, keyed by the batch's epoch
// and position); a dense batch: nothing (refused by a ragged model). task_loss_and_grad and
// task_evaluate call it; other callers of model_predict on a batch (predict) call it first.
ssm_code task_batch_layout(ssm_task *t, const ssm_batch *b, ssm_error *err);
ssm_code task_loss_and_grad(ssm_task *t, const ssm_batch *b, double *loss, ssm_error *err);
// The whole step on a GPU (train.cuda_graph): task_loss_and_grad's batch in, then
// model_train_step_graph (tasks/model.h: loss, gradient, clipping and AdamW of t->work as one
// CUDA graph per batch shape). *loss as above, *gnorm the gradient norm before clipping.
ssm_code task_train_step_graph(ssm_task *t, const ssm_batch *b, const model_step_opts *o,
                               double *loss, double *gnorm, ssm_error *err);
// One pass over bt from its position to the end of the epoch; *out is reset first. A batcher
// cut into the ranks' ranges (SSM_SHARD_SPLIT) is evaluated on every rank of t->dist
// together: the task's eval_reduce combines them, and every rank gets the whole split's metrics.
ssm_code task_evaluate(ssm_task *t, ssm_batcher *bt, task_metrics *out, ssm_error *err);

// ssm_checkpoint_load into t->params, then onto the task's device (t->work).
ssm_code task_load_checkpoint(ssm_task *t, const char *path, unsigned flags, ssm_metadata *meta,
                              ssm_error *err);
// The task's device (t->work) to t->params, then ssm_checkpoint_save.
ssm_code task_save_checkpoint(ssm_task *t, const char *path, unsigned flags,
                              const ssm_metadata *meta, ssm_error *err);
