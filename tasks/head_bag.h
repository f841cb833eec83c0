// defines: ssm_head_bag_attention, ssm_bag_pool_name, ssm_bag_pool_parse
// What the bag head ("bag", tasks/head_bag.c) shows beyond the head interface: the
// attention weights of its last forward (per token, for `predict` and the tests), and the
// names of its poolings (ssm_bag_pool, tasks/head.h) for the config.
#pragma once
#include "core/error.h"
#include "tasks/head.h"

// The last forward's attention weights, [pack->total] (the token row of that batch: each
// bag's weights sum to 1; a class token has its weight like any token), or NULL when the
// pooling has none (mean, max, cls), no forward ran yet, or h is not a bag head. After a
// CUDA forward the array is on the device (download it); after a CPU forward on the host.
const real *ssm_head_bag_attention(const ssm_head *h);

const char *ssm_bag_pool_name(ssm_bag_pool p); // "attention", "gated", "mean", "max", "cls"
// The pooling named `name`, or SSM_ECONFIG listing the known names.
ssm_code ssm_bag_pool_parse(const char *name, ssm_bag_pool *out, ssm_error *err);
