// defines: net, net_init, net_free, bb_declare, bb_plan, P, perturb_params, perturb,
//          random_perm, cfg_tiny, cfg_small
// A small planned backbone for the backbone suites (test_backbone*.c, grad_backbone*.c,
// the GPU twins): declare, init with a seed, plan for (B_max, L); parameters by name;
// perturbations that make every term matter; random orders. Header-only so that each
// suite (a separate binary) owns its copy.
#pragma once
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/util/testutil.h"

typedef struct {
    mamba_config cfg;
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
    int64_t B_max, L;
} net;

// A stack of cfg declared into a fresh table p (finalised) and initialised from seed.
static inline void bb_declare(mamba_stack **s, ssm_params *p, const mamba_config *cfg,
                              uint64_t seed) {
    ssm_error e = {0};
    ssm_params_init(p);
    ck_assert_msg(mamba_stack_declare(s, cfg, p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(p, &e) == SSM_OK, "%s", e.msg);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, seed, &e) == SSM_OK);
    mamba_stack_init_params(*s, p, &rng);
    ssm_rng_free(&rng);
}

// s planned on the host for (B_max, L) on the fresh arena a: measure, commit, hand out.
static inline void bb_plan(mamba_stack *s, ssm_arena *a, int64_t B_max, int64_t L) {
    ssm_error e = {0};
    ssm_arena_init(a);
    ck_assert_msg(mamba_stack_plan(s, a, B_max, L, &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_arena_commit(a, &e) == SSM_OK);
    ck_assert_msg(mamba_stack_plan(s, a, B_max, L, &e) == SSM_OK, "%s", e.msg);
}

static inline void net_init(net *n, mamba_config cfg, int64_t B_max, int64_t L, uint64_t seed) {
    memset(n, 0, sizeof *n);
    n->cfg = cfg;
    n->B_max = B_max;
    n->L = L;
    bb_declare(&n->s, &n->p, &cfg, seed);
    bb_plan(n->s, &n->a, B_max, L);
}

static inline void net_free(net *n) {
    mamba_stack_free(n->s);
    ssm_params_free(&n->p);
    ssm_arena_free(&n->a);
}

static inline real *P(const net *n, const char *fmt, long long i, const char *sf) {
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, fmt, i, sf);
    int64_t idx = ssm_params_find(&n->p, name);
    ck_assert_msg(idx >= 0, "parameter %s missing", name);
    return ssm_params_data(&n->p, (size_t)idx);
}

// Moves the parameters away from the init's special values so that every term matters:
// dt_proj biases uniform in [dt_lo, 1) (the init's dt <= 0.1 barely integrates), norm
// weights and D shifted by up to +-0.25 off 1, and when a_log_amp > 0 every A_log by up to
// +-a_log_amp / 2. Draws from *st in table order.
static inline void perturb_params(ssm_params *p, uint64_t *st, double dt_lo, double a_log_amp) {
    for (size_t i = 0; i < p->count; i++) {
        ssm_param_info *it = &p->items[i];
        real *x = p->data + it->offset;
        if (strstr(it->name, "dt_proj") && strstr(it->name, ".bias"))
            tu_fill_uniform(x, it->numel, dt_lo, 1.0, st);
        else if (strstr(it->name, "norm") || strstr(it->name, ".D"))
            for (size_t j = 0; j < it->numel; j++)
                x[j] += (real)(0.5 * (tu_uniform(st) - 0.5));
        else if (a_log_amp > 0 && strstr(it->name, "A") && strstr(it->name, "_log"))
            for (size_t j = 0; j < it->numel; j++)
                x[j] += (real)(a_log_amp * (tu_uniform(st) - 0.5));
    }
}

// dt around 0.2..2, norm weights and D off 1 (perturb_params from seed)
static inline void perturb(net *n, uint64_t seed) {
    uint64_t st = seed;
    perturb_params(&n->p, &st, -1.5, 0);
}

static inline void random_perm(int32_t *row, int64_t L, uint64_t *st) {
    for (int64_t l = 0; l < L; l++)
        row[l] = (int32_t)l;
    for (int64_t l = L - 1; l > 0; l--) {
        int64_t j = (int64_t)(tu_uniform(st) * (double)(l + 1));
        int32_t t = row[l];
        row[l] = row[j];
        row[j] = t;
    }
}

// The finite-difference suites' smaller stack: d_model 8, d_state 4, chunks of 3 (a row of
// 7 tokens runs chunks of 3, 3 and 1: the checkpoint recompute path).
static inline mamba_config cfg_tiny(int K, int64_t layers) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 8;
    c.d_state = 4;
    c.n_layers = layers;
    c.n_branches = K;
    c.scan_chunk = 3;
    return c;
}

static inline mamba_config cfg_small(int K, int64_t layers) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 16;
    c.d_state = 8;
    c.n_layers = layers;
    c.n_branches = K;
    c.scan_chunk = 5;
    return c;
}
