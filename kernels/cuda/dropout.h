// defines: dropout_apply_cuda
// The CUDA twin of kernels/dropout.h's dropout_apply: the same mask (the hash of
// kernels/dropout.h, evaluated on the device), the same scale, so a site's output is bit for
// bit the CPU's for the same input. Device pointers (m->offsets too, when packed: the
// device copy of the packing's offsets); the library stream (ssm_cuda_stream); an ssm_code result with the
// message in the per-thread CUDA error (kernels/cuda/common.h).
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "kernels/dropout.h"

#ifdef __cplusplus
extern "C" {
#endif

// out [rows, W] = in with site's mask, rows row0 .. row0 + rows - 1 of the activation m
// maps; out may equal in; p == 0 copies (nothing when out == in).
ssm_code dropout_apply_cuda(real *out, const real *in, int64_t row0, int64_t rows, int64_t W,
                            const ssm_dropout_rows *m, uint32_t site, double p);

#ifdef __cplusplus
}
#endif
