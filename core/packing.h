// defines: ssm_packing, ssm_packing_check, ssm_packing_max_len
// A ragged batch (DESIGN.md "Variable length"): n sequences of different lengths packed
// one after another in one row of `total` tokens, without padding, as flash-attn's and
// Mamba-2's cu_seqlens: sequence i is tokens [offsets[i], offsets[i+1]). Every layer that
// mixes tokens (the conv1d window, the scan state, a head's pooling) restarts at each
// offset, in every scan order and direction, so no token sees another sequence's tokens.
// Scan orders of a packed row are permutations that map every sequence onto itself
// (mamba_orders_check_packed).
//
// Who fills it: the model (tasks/model.c) from a ragged batch (datasets/batch.h,
// `offsets`); the trunk hands it to the adapter (ssm_adapter.pack), the backbone
// (mamba_stack_forward_packed) and the head (ssm_head.pack). A sequence is one sample
// of the batch (one MIL bag, one clip), so n is the batch's B.
#pragma once
#include <stdint.h>

#include "core/error.h"

typedef struct {
    int64_t n;                // sequences (samples)
    int64_t total;            // tokens, = offsets[n]
    const int64_t *offsets;   // [n + 1] host array: offsets[0] = 0, strictly increasing
                              // (no empty sequence), offsets[n] = total
    const int64_t *d_offsets; // [n + 1] the same on the GPU (the CUDA path), or NULL
    uint64_t key;             // the random stream of the sequences: sequence b draws from
                              // the splitmix64 state key + b * SSM_PACKING_KEY_STEP, key
                              // being the state of the first sequence's position in its
                              // epoch's order (ssm_augment_stream, datasets/augment.h).
                              // Orders that shuffle per step draw from it, so a resumed run
                              // draws the same permutations, and a sample draws the same
                              // whichever batch, rank's slice or evaluation range packs it
} ssm_packing;

// splitmix64's increment: the state of the next position of a stream.
#define SSM_PACKING_KEY_STEP 0x9E3779B97F4A7C15ull

// n >= 1, offsets as above, total <= max_total (max_total <= 0: no limit). Names the
// first sequence at fault ("sequence 3 is empty", "sequence 2 ends at 7 before it
// starts at 9", "4100 tokens, the plan holds 4096").
ssm_code ssm_packing_check(const ssm_packing *pk, int64_t max_total, ssm_error *err);

// The longest sequence.
int64_t ssm_packing_max_len(const ssm_packing *pk);
