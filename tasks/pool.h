// defines: pool_tokens_forward, pool_tokens_backward, ssm_head_pool_index
// Pooling of one sample's tokens [L, D] to one vector [D], for heads that
// predict one thing per sample (class head, regress head): the token at a
// position (a class token, or the last token), or the mean over all L tokens.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "tasks/head.h"

// out[b, :] = cls_index >= 0 ? inp[b, cls_index, :] : mean_l inp[b, l, :]
// out [B, D], inp [B, L, D]
void pool_tokens_forward(real *out, const real *inp, int64_t cls_index, int64_t B, int64_t L,
                         int64_t D);
// dinp += the pooling's transpose applied to dout [B, D]; dinp [B, L, D]
void pool_tokens_backward(real *dinp, const real *dout, int64_t cls_index, int64_t B, int64_t L,
                          int64_t D);

// For heads that pool: the position in a sample's S*L tokens that `pool` reads (-1 =
// the mean), or SSM_ECONFIG naming the head and what to change.
ssm_code ssm_head_pool_index(const ssm_head_input *in, ssm_head_pool pool, const char *head,
                             int64_t *index, ssm_error *err);
