// defines: scan_shape, selective_scan_forward, selective_scan_backward,
//          selective_scan_chunk_states_size, selective_scan_workspace_size
// The selective scan with mamba_ssm's semantics (selective_scan_fn):
//   dt[b,d,t] = softplus?(delta[b,d,t] + delta_bias[d])
//   h[b,d,n,t] = exp(dt * A[d,n]) * h[b,d,n,t-1] + dt * Bm[b,g,n,t] * u[b,d,t]
//   y[b,d,t]  = sum_n Cm[b,g,n,t] * h[b,d,n,t] + Dskip[d] * u[b,d,t]
//   out       = z ? y * SiLU(z) : y
// with g = d / (D / G) (G groups share B and C; Mamba-1 uses G = 1).
//
// Backward recomputes the hidden states (DESIGN.md invariant 1): the forward
// stores h at the start of every chunk of `chunk` steps ("chunk states",
// [B, D, n_chunks, N]) and the backward re-runs each chunk forward from its
// checkpoint before sweeping it in reverse. Memory O(B*D*N*L/chunk).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/real.h"

typedef struct {
    int64_t B, D, L, N, G; // batch, channels (d_inner), length, state size, B/C groups
    int64_t chunk;         // checkpoint interval along L (e.g. 64); must be >= 1
    int delta_softplus;    // apply softplus to delta + delta_bias
    // Packed sequences (core/packing.h): NULL = every row is one sequence. Else every row
    // b is n_segs sequences [seg_offsets[i], seg_offsets[i+1]) with seg_offsets[0] = 0 and
    // seg_offsets[n_segs] = L: h restarts from 0 at each (and no gradient crosses one).
    // A host array for the CPU kernels, a device array for the CUDA twins.
    const int64_t *seg_offsets;
    int64_t n_segs;
} scan_shape;

static inline int64_t scan_n_chunks(const scan_shape *s) { return (s->L + s->chunk - 1) / s->chunk; }

// Elements of the chunk-state buffer: B * D * n_chunks * N.
size_t selective_scan_chunk_states_size(const scan_shape *s);
// Elements of scratch the backward needs (per-thread recompute buffers and
// per-batch partial sums that keep reductions deterministic).
size_t selective_scan_workspace_size(const scan_shape *s, int n_threads);
// The active CPU variant's own size (kernels/cpu_dispatch.c takes the largest).
size_t selective_scan_variant_workspace_size(const scan_shape *s, int n_threads);

// out          [B, D, L]
// last_state   [B, D, N] or NULL: h after the last step
// chunk_states [B, D, n_chunks, N] or NULL (needed for backward): h before each chunk
// u, delta     [B, D, L]
// A            [D, N]    (A = -exp(A_log), negative)
// Bm, Cm       [B, G, N, L]
// Dskip        [D] or NULL
// z            [B, D, L] or NULL
// delta_bias   [D] or NULL
void selective_scan_forward(real *out, real *last_state, real *chunk_states, const real *u,
                            const real *delta, const real *A, const real *Bm, const real *Cm,
                            const real *Dskip, const real *z, const real *delta_bias,
                            const scan_shape *s);

// Accumulates (+=) every gradient; each may be NULL except du and ddelta.
// dout [B, D, L]: gradient of `out`. chunk_states from the forward.
// workspace: selective_scan_workspace_size(s, n_threads) elements, where
// n_threads = omp_get_max_threads() at the time of the call.
void selective_scan_backward(real *du, real *ddelta, real *dA, real *dBm, real *dCm, real *dDskip,
                             real *dz, real *ddelta_bias, const real *dout,
                             const real *chunk_states, const real *u, const real *delta,
                             const real *A, const real *Bm, const real *Cm, const real *Dskip,
                             const real *z, const real *delta_bias, real *workspace,
                             const scan_shape *s);
