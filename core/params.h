// defines: ssm_params, ssm_param_info, ssm_params_add, ssm_params_finalize,
//          ssm_params_find, ssm_params_data, ssm_params_grad, ssm_params_zero_grad
// Flat parameters (DESIGN.md invariant 3): every tensor of a model lives in
// one buffer, described by a table of (name, shape, offset). Gradients and the
// two AdamW moments are buffers of the same size and layout, so init, AdamW,
// clipping, all-reduce and checkpoints are each one loop over one buffer.
//
// Two phases: layers call ssm_params_add while the model is declared (this
// returns the tensor's index); ssm_params_finalize allocates the buffers;
// only then do ssm_params_data/grad return pointers.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#define SSM_PARAM_NAME_MAX 128
#define SSM_PARAM_MAX_DIMS 4

enum {
    SSM_PARAM_NO_DECAY = 1 << 0, // AdamW applies no weight decay (norms, biases, A_log, D, pos/cls)
};

typedef struct {
    char name[SSM_PARAM_NAME_MAX]; // mamba_ssm / Vim names: layers.3.mixer.in_proj.weight
    int ndim;
    int64_t shape[SSM_PARAM_MAX_DIMS];
    size_t offset; // in elements from the start of the flat buffer
    size_t numel;
    unsigned flags; // SSM_PARAM_*
} ssm_param_info;

typedef struct {
    ssm_param_info *items;
    size_t count, cap;
    size_t total; // elements over all tensors
    real *data;   // [total] values
    real *grad;   // [total] gradients (backward accumulates with +=)
    real *m, *v;  // [total] AdamW first and second moments
    void *data_bf16; // [total] bf16 shadow of data on a GPU in mixed precision (run.precision:
                     // bf16), else NULL; core/cuda/device.h owns and refreshes it
} ssm_params;

void ssm_params_init(ssm_params *p);
void ssm_params_free(ssm_params *p);

// Declares a tensor; returns its index in *index. Names must be unique.
ssm_code ssm_params_add(ssm_params *p, const char *name, int ndim, const int64_t *shape,
                        unsigned flags, size_t *index, ssm_error *err);

// Allocates data, grad, m and v (64-byte aligned, zeroed).
ssm_code ssm_params_finalize(ssm_params *p, ssm_error *err);

// Index of a tensor by exact name, or -1.
int64_t ssm_params_find(const ssm_params *p, const char *name);

static inline real *ssm_params_data(const ssm_params *p, size_t index) {
    return p->data + p->items[index].offset;
}
static inline real *ssm_params_grad(const ssm_params *p, size_t index) {
    return p->grad + p->items[index].offset;
}

void ssm_params_zero_grad(ssm_params *p);

// Formats a shape as "[a, b, c]" into buf.
void ssm_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);
