// defines: model_train_step_graph_cuda, model_graph_stats_cuda, model_step_graph_free_cuda
// The training step on one GPU as a CUDA graph (train.cuda_graph; docs/kernels.md): the
// forward, the loss, the backward, the gradient norm and clipping, AdamW and the bf16
// shadow's refresh, hundreds of launches, replayed as one cudaGraphLaunch.
//
// What is captured, and when. The body is the step with nothing read back mid-step: the loss
// sum and the norm stay on the device and come down (two async copies into pinned memory, the
// body's last nodes) after the whole step, with one stream synchronization. A graph bakes in
// every launch's arguments, so it is kept per batch shape: the key is B, the input and target
// pointers (model_batch_in's fixed device buffers) and the optimizer settings baked into the
// launches (betas, eps, max_norm). The first step of a shape runs the body eagerly (its
// warm-up: the scratch buffers, the norm partials and the cuBLAS handle grow or appear there);
// its second step captures the body on the library stream (kernels/cuda/common.h
// ssm_cuda_stream), instantiates it and launches it; later steps replay it. So a run's last
// short batch gets its own graph from the second epoch on. A ragged (packed) model runs the
// body eagerly every step: its packing, hence its launch shapes, change with each batch. At
// most STEP_GRAPH_SHAPES shapes are kept; a further shape runs eagerly.
//
// What changes per step lives in device memory the graph reads: the batch (uploaded into the
// fixed buffers before the launch, as on the eager path), and AdamW's constants for this
// step's rate and count (train_cuda_adamw_constants, copied up from pinned memory right
// before each launch on the same stream). No kernel of the step draws random numbers on the
// device (augmentation is the loader's, on the host), so there is no seed to advance.
//
// Capture is strict: an allocation (a scratch growth), a synchronous copy or a host read
// inside the body fails the capture with a message that names it (kernels/cuda/common.h), and
// the step returns that error; it never silently runs a graph with a stale buffer. The same
// bits as the eager step (tests/test_cuda_graph.c): the same kernels, the same constants.
#pragma once
#include "tasks/model_arrays.h"

#define STEP_GRAPH_SHAPES 8

// model_train_step_graph (tasks/model.h) on a model set up on the current GPU.
ssm_code model_train_step_graph_cuda(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                                     const model_step_opts *o, double *loss, double *gnorm,
                                     ssm_error *err);
model_graph_stats model_graph_stats_cuda(const ssm_model *m);
// The graphs, their pinned buffers and device constants (NULL m->step_graphs is fine).
void model_step_graph_free_cuda(ssm_model *m);
