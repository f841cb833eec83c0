// defines: ssm_idx, ssm_idx_read, ssm_idx_free, ssm_idx_read_images, ssm_idx_read_labels,
//          SSM_IDX_MAGIC_LABELS, SSM_IDX_MAGIC_IMAGES
// The IDX format of MNIST / Fashion-MNIST: a 4-byte big-endian magic
// 0x0000TTNN (TT = element type, 0x08 = unsigned byte; NN = number of
// dimensions), NN big-endian uint32 dimensions, then the elements row-major.
// Files are read through zlib (gzopen/gzread), so `.gz` and plain files both
// work. Every error names the file and what was expected against what was found.
#pragma once
#include <stdint.h>

#include "core/error.h"

#define SSM_IDX_MAGIC_LABELS 0x00000801u // unsigned byte, 1 dimension: [n]
#define SSM_IDX_MAGIC_IMAGES 0x00000803u // unsigned byte, 3 dimensions: [n, H, W]
#define SSM_IDX_MAX_DIMS 4

typedef struct {
    uint32_t magic;                  // as read from the file
    int ndim;                        // number of dimensions (magic & 0xff)
    int64_t dims[SSM_IDX_MAX_DIMS];  // [ndim], dims[0] is the sample count
    uint8_t *data;                   // [dims[0] * ... * dims[ndim-1]] bytes, row-major
    int64_t size;                    // bytes in data
} ssm_idx;

// Reads an unsigned-byte IDX file whose magic must equal `expect_magic`
// (SSM_IDX_MAGIC_LABELS or SSM_IDX_MAGIC_IMAGES). Refuses: a bad magic, a
// truncated header or body, trailing bytes after the body, a corrupt gzip
// stream (including a failed CRC), zero-sized non-sample dimensions, sizes
// that overflow. Memory grows with the bytes actually read, never with what a
// (possibly corrupt) header claims. On error *out is left empty.
ssm_code ssm_idx_read(const char *path, uint32_t expect_magic, ssm_idx *out, ssm_error *err);
void ssm_idx_free(ssm_idx *x);

// Images file: *pixels [n, h, w] (malloc'd, caller frees), values 0..255.
ssm_code ssm_idx_read_images(const char *path, uint8_t **pixels, int64_t *n, int64_t *h,
                             int64_t *w, ssm_error *err);

// Labels file: *labels [n] (malloc'd, caller frees). Each label must lie in
// [0, num_classes) (num_classes <= 0 skips the range check: up to 255).
ssm_code ssm_idx_read_labels(const char *path, int32_t num_classes, int32_t **labels, int64_t *n,
                             ssm_error *err);
