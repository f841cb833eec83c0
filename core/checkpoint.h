// defines: ssm_checkpoint_save, ssm_checkpoint_load, ssm_checkpoint_inspect,
//          ssm_ckpt_tensor, ssm_ckpt_info, ssm_ckpt_info_free, ssm_ckpt_info_print,
//          ssm_ckpt_dtype_size, SSM_CKPT_OPTIMIZER, SSM_CKPT_OPTIM_M, SSM_CKPT_OPTIM_V
// Checkpoints are safetensors files (DESIGN.md invariant 9), readable by the
// Python `safetensors` package and so by PyTorch:
//
//   [8 bytes: N, little-endian u64][N bytes: JSON header, space-padded][data]
//   header = {"__metadata__": {"format": "pt", "config": "...", ...},
//             "<name>": {"dtype": "F32", "shape": [a, b], "data_offsets": [begin, end]}, ...}
//
// Tensors are named as in the parameter table (mamba_ssm / Vim names), dtype
// F32 (F64 in the double build), offsets relative to the data section, which
// the tensors tile exactly. With SSM_CKPT_OPTIMIZER the AdamW moments follow
// as "optim.m.<name>" and "optim.v.<name>" with the same shapes. Files are
// written atomically (core/atomic_file.h): a failed save leaves the previous
// file as it was.
//
// Reading is defensive: the header length is bounded by the file size, the
// JSON is parsed by a small strict parser for this format only, every tensor's
// byte range is checked against the file and against its dtype x shape, and
// overlapping tensors or uncovered bytes are refused. Every error names the
// file and what was wrong.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/metadata.h"
#include "core/params.h"

#define SSM_CKPT_OPTIM_M "optim.m." // prefix of first-moment tensors
#define SSM_CKPT_OPTIM_V "optim.v." // prefix of second-moment tensors
#define SSM_CKPT_MAX_DIMS 8
#define SSM_CKPT_MAX_HEADER ((uint64_t)100 << 20) // as the safetensors reference reader

enum {
    SSM_CKPT_OPTIMIZER = 1 << 0, // save: write p->m and p->v; load: require and read them
};

// Writes p->data (and, with SSM_CKPT_OPTIMIZER, p->m and p->v) and meta to path.
// A "format": "pt" entry is added first unless meta has "format". meta may be NULL.
ssm_code ssm_checkpoint_save(const char *path, const ssm_params *p, unsigned flags,
                             const ssm_metadata *meta, ssm_error *err);

// Reads a checkpoint into an existing, finalized table: every tensor of p must
// be in the file with the same shape (a float dtype: F32, F64, F16 or BF16,
// converted to `real`), and every tensor of the file must be in p (optimizer
// tensors are skipped unless SSM_CKPT_OPTIMIZER asks for them, then they are
// required). Non-finite values are refused. meta_out (may be NULL; init'd by
// the caller) receives the metadata. On error p is unchanged.
ssm_code ssm_checkpoint_load(const char *path, ssm_params *p, unsigned flags, ssm_metadata *meta_out,
                             ssm_error *err);

typedef struct {
    char *name;
    char dtype[16];                   // "F32", "BF16", "I64", ...
    int ndim;                         // 0 = scalar
    int64_t shape[SSM_CKPT_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;              // byte range within the data section
} ssm_ckpt_tensor;

typedef struct {
    ssm_ckpt_tensor *tensors;         // [count] in header order
    size_t count;
    ssm_metadata meta;
    uint64_t header_len;              // N
    uint64_t data_start;              // 8 + N
    uint64_t file_size;
} ssm_ckpt_info;

// Reads and checks the header only (for `ssmkit info`). On error *info is empty.
ssm_code ssm_checkpoint_inspect(const char *path, ssm_ckpt_info *info, ssm_error *err);
void ssm_ckpt_info_free(ssm_ckpt_info *info);

// Tensors as "name  dtype  [shape]" lines and metadata keys with their values
// (values longer than max_value bytes are cut, 0 = no limit).
void ssm_ckpt_info_print(FILE *f, const ssm_ckpt_info *info, size_t max_value);

// Bytes per element of a safetensors dtype name, or 0 if unknown.
size_t ssm_ckpt_dtype_size(const char *dtype);
