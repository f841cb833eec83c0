// defines: (static test helpers) setup, teardown, make_params, tensors_equal, path_in, slurp,
//          fill_meta, config_yaml — shared by the checkpoint suites.
#pragma once
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/rng.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
#include "tests/util/testutil.h"

static char tmpdir[256];

static inline void setup(void) {
    ck_assert_int_eq(tu_mkdtemp(tmpdir, sizeof tmpdir, "ssm_ckpt"), 0);
}

// removes folders a test left read-only too
static inline void teardown(void) { ck_assert_int_eq(tu_rmtree(tmpdir), 0); }

// A small model table: names as mamba_ssm writes them. extra / other_shape
// give the variants used by the mismatch tests.
static inline void make_params(ssm_params *p, int extra, int other_shape, uint64_t seed) {
    ssm_error e = {0};
    ssm_params_init(p);
    ck_assert_int_eq(ssm_params_add(p, "layers.0.mixer.in_proj.weight", 2,
                                    (int64_t[]){6, other_shape ? 5 : 4}, 0, NULL, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_add(p, "layers.0.mixer.A_log", 2, (int64_t[]){3, 2},
                                    SSM_PARAM_NO_DECAY, NULL, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_add(p, "norm_f.weight", 1, (int64_t[]){4}, 0, NULL, &e), SSM_OK);
    if (extra)
        ck_assert_int_eq(ssm_params_add(p, "head.bias", 1, (int64_t[]){3}, 0, NULL, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(p, &e), SSM_OK);
    if (seed) {
        uint64_t s = seed;
        tu_fill_uniform(p->data, p->total, -2, 2, &s);
        tu_fill_uniform(p->m, p->total, -1, 1, &s);
        tu_fill_uniform(p->v, p->total, 0, 1, &s);
    }
}

static inline bool tensors_equal(const ssm_params *a, const real *da, const ssm_params *b, const real *db) {
    for (size_t i = 0; i < a->count; i++)
        if (memcmp(da + a->items[i].offset, db + b->items[i].offset, a->items[i].numel * sizeof(real)))
            return false;
    return true;
}

static inline void path_in(char *buf, size_t n, const char *name) { tu_path(buf, n, tmpdir, name); }

static inline unsigned char *slurp(const char *path, size_t *len) {
    long n = 0;
    char *b = cf_read_file(path, &n);
    ck_assert_msg(b != NULL, "cannot read %s", path);
    *len = (size_t)n;
    return (unsigned char *)b;
}

static const char *config_yaml = "data:\n  name: \"mnist\"\n  path: \"C:\\\\x\"\nrun:\n  seed: 7\n";

static inline void fill_meta(ssm_metadata *m, ssm_rng *rng) {
    ssm_error e = {0};
    ssm_metadata_init(m);
    ck_assert_int_eq(ssm_metadata_set(m, SSM_META_CONFIG, config_yaml, &e), SSM_OK);
    ck_assert_int_eq(ssm_metadata_set_int(m, SSM_META_STEP, 12345678901LL, &e), SSM_OK);
    ck_assert_int_eq(ssm_metadata_set_int(m, SSM_META_EPOCH, 3, &e), SSM_OK);
    ck_assert_int_eq(ssm_metadata_set_double(m, SSM_META_BEST_METRIC, 0.9137, &e), SSM_OK);
    ck_assert_int_eq(ssm_metadata_set(m, "note", "tab\there, quote \" and ü \x01", &e), SSM_OK);
    size_t n = ssm_rng_state_size(rng);
    unsigned char *buf = malloc(n);
    ssm_rng_save(rng, buf);
    ck_assert_int_eq(ssm_metadata_set_hex(m, "example_rng", buf, n, &e), SSM_OK);
    free(buf);
}
