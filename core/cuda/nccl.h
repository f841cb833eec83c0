// defines: ssm_nccl_attach, ssm_nccl_available
// The gradient all-reduce of GPU ranks (built with CUDA=1 only): one NCCL communicator over
// the ranks of d, one GPU per rank (the current device when attached), its unique id made
// by rank 0 and broadcast over MPI (core/distributed.h), as llm.c does. Once attached,
// ssm_dist_grad_average(d, ..., on_device 1) scales the device gradients by the rank's
// share and sums them in place with ncclAllReduce on the library stream (ssm_cuda_stream;
// ordered after the backward and before clipping, with no host synchronisation), in fp32, or in
// bf16 (run.grad_allreduce: bf16: half the bytes; the sum is rounded to bf16 and widened back).
// A build without NCCL (no nccl.h: make NCCL=0) refuses with the reason; one GPU then trains
// alone as before.
#pragma once
#include "core/distributed.h"
#include "core/error.h"

// 1 when this build links NCCL.
int ssm_nccl_available(void);
// Creates the communicator (every rank of d calls it, after making its GPU current) and
// attaches it to d (ssm_dist_finalize frees it). bf16: sum bf16 copies of the gradients.
// d inactive (one process): a communicator of one rank (the tests use it).
ssm_code ssm_nccl_attach(ssm_dist *d, int bf16, ssm_error *err);
