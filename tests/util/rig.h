// defines: tu_plan_adapter, tu_plan_head, tu_rig, tu_rig_make, tu_rig_free, tu_param
// A layer ready to run in a suite: an adapter or a head planned on the host for a batch
// size (measure, commit, hand out), and an adapter with its parameter table and arena in
// one rig. Every failure but the one a test may provoke (the create) fails the test.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tasks/head.h"

// a planned for B on the fresh arena ar.
void tu_plan_adapter(ssm_adapter *a, ssm_arena *ar, int64_t B);
// h planned for B on the fresh arena ar.
void tu_plan_head(ssm_head *h, ssm_arena *ar, int64_t B);

typedef struct {
    ssm_adapter *a;
    ssm_params p;
    ssm_arena ar;
} tu_rig;

// The adapter `name` on a fresh table (finalised, values left to the caller) planned for
// B_max. Returns the create's code; on a failed create nothing is left to free.
ssm_code tu_rig_make(tu_rig *r, const char *name, const ssm_adapter_options *o,
                     const ssm_input_shape *in, int64_t D, int64_t B_max, ssm_error *e);
void tu_rig_free(tu_rig *r);

// The values of the parameter `name` of p (fails the test when there is none).
real *tu_param(const ssm_params *p, const char *name);
