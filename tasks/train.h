// defines: train_options, train_result, train_run
// The training loop of every task and device (docs/tasks.md), on one process or on the
// data-parallel ranks of t->dist (docs/distributed.md: batches sharded by the batcher,
// gradients averaged, rank 0 alone writes the run folder): AdamW with decoupled
// weight decay (none on tensors flagged no-decay: norms, biases, A_log, D,
// positions, class tokens, RevIN), linear warmup then cosine, global-norm
// clipping, evaluation on validation every train.eval_every_epochs, best/last
// checkpoints (best by the task's primary metric), early stopping by
// patience, exact resume from last.safetensors (model, optimizer moments,
// step, epoch, position in the epoch, best metric, patience count), and a
// final test evaluation of best.safetensors. Writes metrics.jsonl
// (docs/tasks.md lists its keys). The task (tasks/task.h) supplies the loss,
// the evaluation and the metric names.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "core/metadata.h"
#include "datasets/batch.h"
#include "tasks/task_run.h"

typedef struct {
    const ssm_config *cfg;       // resolved config
    const char *run_dir;         // exists; receives metrics.jsonl, checkpoints, task reports
    const char *config_yaml;     // stored in checkpoint metadata
    int resume;                  // continue from run_dir/last.safetensors
    const ssm_metadata *extra_meta; // copied into every checkpoint (data statistics, class names)
    int64_t kill_at_step;        // testing aid: raise SIGKILL right after this step (0 = off)
    // Data-parallel runs (the task's ranks, t->dist; docs/distributed.md): testing aids
    int kill_rank;               // the rank kill_at_step kills (0 by default: mpirun then ends
                                 // the others; -1: every rank)
    int64_t fail_at_step;        // rank fail_rank returns an error right after this step (0 = off)
    int fail_rank;
    const char *rank_weights_dir; // every rank writes its final weights to <dir>/rank<R>.safetensors
} train_options;

typedef struct {
    int64_t steps, epochs_done;
    double best_val;             // the primary metric's best validation value, NaN without validation
    int64_t best_step;
    task_metrics val;            // the last validation evaluation (n = 0 without)
    task_metrics test;           // the test evaluation of the best checkpoint (n = 0 without)
    double train_seconds, samples_per_second;
    int stopped_early;
} train_result;

// val and test may be NULL. Without validation the final weights are saved as
// best.safetensors and tested.
ssm_code train_run(ssm_task *t, ssm_batcher *train, ssm_batcher *val, ssm_batcher *test,
                   const train_options *o, train_result *r, ssm_error *err);
