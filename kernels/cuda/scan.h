// defines: selective_scan_forward_cuda, selective_scan_backward_cuda,
//          selective_scan_forward_bf16, selective_scan_backward_bf16,
//          selective_scan_workspace_size_cuda, selective_scan_cuda_tchunk,
//          selective_scan_cuda_fwd_path,
//          SCAN_CUDA_MAX_BWD_CHUNK
// CUDA twins of kernels/scan.h: the same semantics (mamba_ssm selective_scan_fn), the same
// argument order and shapes, device pointers, and an ssm_code result (kernels/cuda/common.h
// says how errors travel). chunk_states has the CPU layout [B, D, n_chunks, N] with
// n_chunks = ceil(L / s->chunk) and the same meaning (h before step c*chunk), so a forward
// on one device and a backward on the other agree.
//
// Limits: s->chunk <= SCAN_CUDA_MAX_BWD_CHUNK for the backward (it re-runs one chunk per
// tile from its checkpoint); the forward takes any chunk >= 1. Any N >= 1, any G dividing D.
// Packed rows: s->seg_offsets is a DEVICE array [n_segs + 1] (the same offsets for every
// row); its values are not read on the host, so check them there first (ssm_packing_check).
//
// Long rows with few channels take the chunked path (docs/cuda-scan-notes.md): the row cut
// into time chunks run in parallel, their states (adjoints) carried across in a pass of
// their own. Its forward needs chunk_states (it keeps its carries there); without them the
// other kernels run. selective_scan_cuda_tchunk says whether a shape takes it; the variables
// SSMKIT_SCAN_CHUNKED (0 never, 1 wherever the shape allows, else the rule) and
// SSMKIT_SCAN_TCHUNK (steps per time chunk) are read at every call, the workspace size's too.
//
// Determinism: the backward reduces dB, dC over the channels of a group, and dA, dD,
// ddelta_bias over the batch, in a fixed order through the workspace (no atomics): the same
// inputs give bit-identical gradients on every run.
//
// bf16 variants: u, delta, z, Bm, Cm, out (and du, ddelta, dz, dout) are bf16; A, Dskip,
// delta_bias, the states, and dA, dBm, dCm, dDskip, ddelta_bias are fp32 (the caller
// casts dBm/dCm if it keeps B and C in bf16). Arithmetic and accumulation are fp32.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h"
#ifdef __cplusplus
extern "C" { // kernels/scan.h is a C header without guards of its own
#endif
#include "kernels/scan.h"
#ifdef __cplusplus
}
#endif

#define SCAN_CUDA_MAX_BWD_CHUNK 64

#ifdef __cplusplus
extern "C" {
#endif

// Floats of device workspace the backward needs (partial sums of the deterministic
// reductions): about B*D*N*L/16 + 3*B*D*N.
size_t selective_scan_workspace_size_cuda(const scan_shape *s);

// Steps per time chunk of the chunked path for this shape (the backward's choice, and the
// forward's when it gets chunk_states), or 0 where the other kernels run.
int64_t selective_scan_cuda_tchunk(const scan_shape *s);

// The forward kernel the last forward call of this process launched (tests and benches:
// "pipe" (v7), "pipe_zfill" (v6's staging), "split" (v4b), "time" (v3), "chunked"), or "".
const char *selective_scan_cuda_fwd_path(void);

ssm_code selective_scan_forward_cuda(real *out, real *last_state, real *chunk_states,
                                     const real *u, const real *delta, const real *A,
                                     const real *Bm, const real *Cm, const real *Dskip,
                                     const real *z, const real *delta_bias, const scan_shape *s);

// Accumulates (+=) every gradient; each may be NULL except du and ddelta.
// workspace: selective_scan_workspace_size_cuda(s) floats of device memory.
ssm_code selective_scan_backward_cuda(real *du, real *ddelta, real *dA, real *dBm, real *dCm,
                                      real *dDskip, real *dz, real *ddelta_bias,
                                      const real *dout, const real *chunk_states, const real *u,
                                      const real *delta, const real *A, const real *Bm,
                                      const real *Cm, const real *Dskip, const real *z,
                                      const real *delta_bias, real *workspace,
                                      const scan_shape *s);

ssm_code selective_scan_forward_bf16(ssm_bf16 *out, float *last_state, float *chunk_states,
                                     const ssm_bf16 *u, const ssm_bf16 *delta, const float *A,
                                     const ssm_bf16 *Bm, const ssm_bf16 *Cm, const float *Dskip,
                                     const ssm_bf16 *z, const float *delta_bias,
                                     const scan_shape *s);

ssm_code selective_scan_backward_bf16(ssm_bf16 *du, ssm_bf16 *ddelta, float *dA, float *dBm,
                                      float *dCm, float *dDskip, ssm_bf16 *dz,
                                      float *ddelta_bias, const ssm_bf16 *dout,
                                      const float *chunk_states, const ssm_bf16 *u,
                                      const ssm_bf16 *delta, const float *A, const ssm_bf16 *Bm,
                                      const ssm_bf16 *Cm, const float *Dskip, const ssm_bf16 *z,
                                      const float *delta_bias, float *workspace,
                                      const scan_shape *s);

#ifdef __cplusplus
}
#endif
