// defines: mil_tmpdir, mil_rmtree, mil_epoch
// Helpers of the MIL suites (tests/test_mil_*.c): a fresh temporary folder (tests/util/files.h
// writes the small text fixtures into it), and one epoch of a batcher gathered per bag.
#pragma once
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/batch.h"
#include "tests/util/files.h"

// A new empty folder under $TMPDIR (or /tmp); path has room for 256 bytes.
static inline void mil_tmpdir(char *path) {
    ck_assert_int_eq(tu_mkdtemp(path, 256, "ssmkit_mil"), 0);
}

static inline void mil_rmtree(const char *path) { ck_assert_int_eq(tu_rmtree(path), 0); }

// One epoch of bt: for every bag id, its count of appearances and (last) tokens copied
// into x_of[id] (malloc'd [len, token]), its label into y_of[id] and its length.
typedef struct {
    int64_t n, token;
    int *seen;
    int32_t *y;
    int64_t *len;
    real **x;
    int32_t **yt;
} mil_epoch;

static inline void mil_epoch_run(mil_epoch *ep, ssm_batcher *bt, int64_t n_bags, int64_t token) {
    memset(ep, 0, sizeof *ep);
    ep->n = n_bags;
    ep->token = token;
    ep->seen = calloc((size_t)n_bags, sizeof *ep->seen);
    ep->y = calloc((size_t)n_bags, sizeof *ep->y);
    ep->len = calloc((size_t)n_bags, sizeof *ep->len);
    ep->x = calloc((size_t)n_bags, sizeof *ep->x);
    ep->yt = calloc((size_t)n_bags, sizeof *ep->yt);
    const ssm_batch *b;
    ssm_error e = {0};
    ssm_code rc;
    while ((rc = ssm_batcher_next(bt, &b, &e)) == SSM_OK && b) {
        ck_assert_ptr_nonnull(b->offsets);
        ck_assert_int_eq(b->shape[1], token);
        for (int64_t k = 0; k < b->B; k++) {
            int64_t id = b->index[k], o = b->offsets[k], m = b->offsets[k + 1] - o;
            ep->seen[id]++;
            ep->y[id] = b->y[k];
            ep->len[id] = m;
            free(ep->x[id]);
            ep->x[id] = malloc((size_t)(m * token) * sizeof(real));
            memcpy(ep->x[id], b->x + o * token, (size_t)(m * token) * sizeof(real));
            if (b->y_tokens) {
                free(ep->yt[id]);
                ep->yt[id] = malloc((size_t)m * sizeof(int32_t));
                memcpy(ep->yt[id], b->y_tokens + o, (size_t)m * sizeof(int32_t));
            }
        }
    }
    ck_assert_msg(rc == SSM_OK, "%s", e.msg);
}

static inline void mil_epoch_free(mil_epoch *ep) {
    for (int64_t i = 0; i < ep->n; i++) {
        free(ep->x[i]);
        free(ep->yt[i]);
    }
    free(ep->x);
    free(ep->yt);
    free(ep->seen);
    free(ep->y);
    free(ep->len);
}
