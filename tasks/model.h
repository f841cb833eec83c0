// defines: model_build, model_params, model_batch_in, model_forward, model_loss_and_grad,
//          model_predict, model_free, model_set_packing, model_set_step_key,
//          model_train_step_graph, model_graph_stats_of (the types: tasks/model_arrays.h)
// The one model of every task: trunk (adapter -> Mamba backbone, tasks/trunk.h) + a head
// from the registry (tasks/head.h) + the loss the task picked (tasks/loss.h). It owns
// the flat parameter table and the activation arena, both sized once when it is built
// (no malloc in a step).
//
//   x [B, <input>] --trunk--> feats [B*S, L, D] --head--> out [B, K] --loss--> scalar
//
// The device path is written once, here and in tasks/cuda/model_cuda.c, for every
// head and adapter: on one GPU (spec.device cuda, a CUDA=1 build) the host table is
// built and initialised exactly as on the CPU (same seed, same weights), then mirrored
// to the device (`dparams`, the table a step updates; the host table stays the master
// for checkpoints). Activations live in a device arena; the adapter's and the head's
// CUDA twins run there, and an adapter or head without twins is refused by name. A
// step copies the batch up and nothing back but the mean loss (8 bytes).
#pragma once
#include <stdint.h>

#include "tasks/model_arrays.h"

// Declares, initialises (seeded) and plans the whole model on spec->device (CUDA in a
// CPU-only build, without a GPU, or with an adapter or head that has no CUDA path:
// SSM_EDEVICE with the reason).
ssm_code model_build(ssm_model *m, const ssm_model_spec *spec, ssm_error *err);
void model_free(ssm_model *m);

// The parameters a step reads and updates: &m->params on the CPU, &m->dparams on CUDA.
ssm_params *model_params(ssm_model *m);

// Ragged models (a ragged adapter: bags, clips): the packing of the next batch, before
// model_batch_in / model_predict: sample b is rows offsets[b] .. offsets[b+1] of x
// (offsets [B+1] on the host, copied), key the batch's random key. A dense model refuses it.
ssm_code model_set_packing(ssm_model *m, const int64_t *offsets, int64_t B, uint64_t key,
                           ssm_error *err);

// The key of the dropout masks of the next model_loss_and_grad (kernels/dropout.h): the
// stream of the batch's first sample, ssm_augment_stream(seed, epoch, position), so that a
// resumed, prefetched or data-parallel step draws the same masks for the same samples
// (task_loss_and_grad sets it; 0 until set). Dropout acts in model_loss_and_grad only:
// model_forward and model_predict always run without it.
void model_set_step_key(ssm_model *m, uint64_t key);

// A host batch onto the model's device: x [B, <input>] (ragged: [total, <token>]) and the targets (t_host may be
// NULL: prediction), checked on the host (loss_check_targets). *x and *t receive what
// to hand to forward / loss_and_grad (the host pointers themselves on the CPU).
ssm_code model_batch_in(ssm_model *m, const real *x_host, const ssm_targets *t_host, int64_t B,
                        const real **x, ssm_targets *t, ssm_error *err);

// m->out [B, K] for x on the model's device.
ssm_code model_forward(ssm_model *m, const real *x, int64_t B, ssm_error *err);

// Forward + loss + backward: zeroes and fills the gradients of model_params(m);
// *loss is the batch's loss. x and t on the model's device (model_batch_in).
ssm_code model_loss_and_grad(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                             double *loss, ssm_error *err);

// The whole training step on a GPU, replayed as one CUDA graph per batch shape
// (train.cuda_graph; tasks/cuda/step_graph.h says what is captured and when): model_loss_and_grad,
// global-norm clipping and AdamW (with o's settings) of model_params(m), after model_batch_in.
// *loss as model_loss_and_grad's, *gnorm the norm before clipping. The same weights, bit for
// bit, as model_loss_and_grad then the device's clip and adamw (tasks/train_device.h). Where
// the norm is not finite the weights are left as they were (the caller stops the run). On the
// CPU: SSM_EINVAL.
ssm_code model_train_step_graph(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                                const model_step_opts *o, double *loss, double *gnorm,
                                ssm_error *err);
// The counts of the steps above (zeros before the first, and on the CPU).
model_graph_stats model_graph_stats_of(const ssm_model *m);

// Host x in, host outputs out: batch_in, forward, and on CUDA the outputs come down.
// *out = m->h_out [B, K].
ssm_code model_predict(ssm_model *m, const real *x_host, int64_t B, const real **out,
                       ssm_error *err);

