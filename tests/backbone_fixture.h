// defines: net, net_init, net_free, P, perturb, random_perm, cfg_small
// A small planned backbone for the backbone suites (test_backbone.c,
// test_backbone_setup.c): declare, init with a seed, plan for (B_max, L);
// parameters by name; perturbations that make every term matter; random
// orders. Header-only so that each suite (a separate binary) owns its copy.
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

static inline void net_init(net *n, mamba_config cfg, int64_t B_max, int64_t L, uint64_t seed) {
    memset(n, 0, sizeof *n);
    n->cfg = cfg;
    n->B_max = B_max;
    n->L = L;
    ssm_error e = {0};
    ssm_params_init(&n->p);
    ck_assert_msg(mamba_stack_declare(&n->s, &cfg, &n->p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(&n->p, &e) == SSM_OK, "%s", e.msg);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, seed, &e) == SSM_OK);
    mamba_stack_init_params(n->s, &n->p, &rng);
    ssm_rng_free(&rng);
    ssm_arena_init(&n->a);
    ck_assert_msg(mamba_stack_plan(n->s, &n->a, B_max, L, &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_arena_commit(&n->a, &e) == SSM_OK);
    ck_assert_msg(mamba_stack_plan(n->s, &n->a, B_max, L, &e) == SSM_OK, "%s", e.msg);
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

// Puts dt around 0.2..2 so the state matters (the init's dt <= 0.1 barely
// integrates), and moves norm weights and D off 1.
static inline void perturb(net *n, uint64_t seed) {
    uint64_t st = seed;
    for (size_t i = 0; i < n->p.count; i++) {
        ssm_param_info *it = &n->p.items[i];
        real *x = n->p.data + it->offset;
        if (strstr(it->name, "dt_proj") && strstr(it->name, ".bias"))
            tu_fill_uniform(x, it->numel, -1.5, 1.0, &st);
        else if (strstr(it->name, "norm") || strstr(it->name, ".D"))
            for (size_t j = 0; j < it->numel; j++)
                x[j] += (real)(0.5 * (tu_uniform(&st) - 0.5));
    }
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
