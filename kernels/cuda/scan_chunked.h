// defines: scan_chunked_forward, scan_chunked_backward
// The launches of the chunked selective scan (kernels/cuda/scan_chunked.cuh has the
// algorithm), for kernels/cuda/scan.cu, which checks the shape, decides the path, and fills
// the arguments: a.tchunk (a multiple of a.chunk, at least 2 chunks), a.n_tchunks >= 2, a.nblk
// for P = N / 4 lanes per channel (P = 2, 4 or 8), a.chunk a multiple of 16 and <= 64.
// C++ only (instantiated for float and __nv_bfloat16).
#pragma once
#include "kernels/cuda/common.h"
#include "kernels/cuda/scan_kernels.cuh"

// The three passes of the forward; a.chunk_states (not NULL) also holds the carries.
template <typename T> ssm_code scan_chunked_forward(const ScanArgs &a, int P);

// The three passes of the backward, up to the per-block dB/dC partials and the per-(b, time
// chunk, d) dA/dD/ddelta_bias partials in a.ws_*; the caller reduces them. E, Pr: workspace
// of n_tchunks * B * D * N floats each (the carried adjoints end in E).
template <typename T> ssm_code scan_chunked_backward(ScanArgs a, int P, float *E, float *Pr);
