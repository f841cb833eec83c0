// defines: mil_split_free, mil_folds_stratified, mil_split_holdout, mil_split_read_clam,
//          mil_split_write_clam (see mil_folds.h)
#include "datasets/mil_folds.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/series_text.h"

#define FOLD_STREAM 0x666f6c64ull // "fold"
#define VAL_STREAM 0x76616cull    // "val"

void mil_split_free(mil_split *sp) {
    free(sp->train);
    free(sp->val);
    free(sp->test);
    memset(sp, 0, sizeof *sp);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void sort_ids(int64_t *a, int64_t n) { qsort(a, (size_t)n, sizeof *a, cmp_i64); }

static ssm_code check_labels(const int32_t *labels, const int64_t *ids, int64_t n,
                             int64_t num_classes, ssm_error *err) {
    for (int64_t i = 0; i < n; i++) {
        int64_t b = ids ? ids[i] : i;
        if (labels[b] < 0 || labels[b] >= num_classes)
            return ssm_fail(err, SSM_EDATA, "bag %" PRId64 ": label %d is outside 0..%" PRId64, b,
                            labels[b], num_classes - 1);
    }
    return SSM_OK;
}

ssm_code mil_split_holdout(const int32_t *labels, int64_t num_classes, const int64_t *ids,
                           int64_t n, double val_fraction, uint64_t seed, int64_t **train,
                           int64_t *n_train, int64_t **val, int64_t *n_val, ssm_error *err) {
    *train = *val = NULL;
    *n_train = *n_val = 0;
    if (!(val_fraction >= 0 && val_fraction < 1))
        return ssm_fail(err, SSM_EINVAL, "validation fraction %g: expected 0 <= f < 1",
                        val_fraction);
    SSM_TRY(check_labels(labels, ids, n, num_classes, err));
    int64_t *tr = malloc((size_t)(n + 1) * sizeof *tr), *va = malloc((size_t)(n + 1) * sizeof *va);
    int64_t *cls = malloc((size_t)(n + 1) * sizeof *cls);
    ssm_rng r = {0};
    ssm_code rc = !tr || !va || !cls ? ssm_fail(err, SSM_ENOMEM, "out of memory")
                                     : ssm_rng_init(&r, ssm_seed_derive(seed, VAL_STREAM), err);
    for (int64_t c = 0; c < num_classes && rc == SSM_OK; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (labels[ids[i]] == c)
                cls[m++] = ids[i];
        ssm_rng_shuffle(&r, cls, (size_t)m);
        int64_t nv = (int64_t)llround(val_fraction * (double)m);
        for (int64_t i = 0; i < m; i++) {
            if (i < nv)
                va[(*n_val)++] = cls[i];
            else
                tr[(*n_train)++] = cls[i];
        }
    }
    if (r.g)
        ssm_rng_free(&r);
    free(cls);
    if (rc) {
        free(tr);
        free(va);
        *n_train = *n_val = 0;
        return rc;
    }
    sort_ids(tr, *n_train);
    sort_ids(va, *n_val);
    *train = tr;
    *val = va;
    return SSM_OK;
}

ssm_code mil_folds_stratified(mil_split *sp, const int32_t *labels, int64_t n,
                              int64_t num_classes, int64_t folds, int64_t fold, int64_t repeat,
                              double val_fraction, uint64_t seed, ssm_error *err) {
    memset(sp, 0, sizeof *sp);
    if (folds < 2 || folds > n)
        return ssm_fail(err, SSM_EINVAL, "%" PRId64 " folds of %" PRId64 " bags: expected 2..%"
                        PRId64, folds, n, n);
    if (fold < 0 || fold >= folds)
        return ssm_fail(err, SSM_EINVAL, "fold %" PRId64 ": expected 0..%" PRId64, fold, folds - 1);
    if (repeat < 0)
        return ssm_fail(err, SSM_EINVAL, "repeat %" PRId64 ": expected >= 0", repeat);
    SSM_TRY(check_labels(labels, NULL, n, num_classes, err));
    int64_t *cls = malloc((size_t)n * sizeof *cls), *rest = malloc((size_t)n * sizeof *rest);
    sp->test = malloc((size_t)n * sizeof *sp->test);
    uint64_t rs = ssm_seed_derive(ssm_seed_derive(seed, FOLD_STREAM), (uint64_t)repeat);
    ssm_rng r = {0};
    ssm_code rc = !cls || !rest || !sp->test ? ssm_fail(err, SSM_ENOMEM, "out of memory")
                                             : ssm_rng_init(&r, rs, err);
    int64_t deal = 0, n_rest = 0;
    for (int64_t c = 0; c < num_classes && rc == SSM_OK; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (labels[i] == c)
                cls[m++] = i;
        ssm_rng_shuffle(&r, cls, (size_t)m);
        for (int64_t i = 0; i < m; i++, deal++) {
            if (deal % folds == fold)
                sp->test[sp->n_test++] = cls[i];
            else
                rest[n_rest++] = cls[i];
        }
    }
    if (r.g)
        ssm_rng_free(&r);
    if (rc == SSM_OK)
        rc = mil_split_holdout(labels, num_classes, rest, n_rest, val_fraction,
                               ssm_seed_derive(rs, (uint64_t)fold), &sp->train, &sp->n_train,
                               &sp->val, &sp->n_val, err);
    free(cls);
    free(rest);
    if (rc) {
        mil_split_free(sp);
        return rc;
    }
    sort_ids(sp->test, sp->n_test);
    return SSM_OK;
}

// ---- CLAM split files ----------------------------------------------------------------

ssm_code mil_split_read_clam(mil_split *sp, const mil_bags *s, const char *path, ssm_error *err) {
    memset(sp, 0, sizeof *sp);
    series_text txt;
    SSM_TRY(series_text_read(&txt, path, err));
    static const char *const part_names[3] = {"train", "val", "test"};
    int64_t *lists[3], counts[3] = {0};
    int64_t *where = malloc((size_t)s->n * sizeof *where); // line that placed each bag, 0 none
    int *part_of = malloc((size_t)s->n * sizeof *part_of);
    for (int k = 0; k < 3; k++)
        lists[k] = malloc((size_t)(s->n + 1) * sizeof *lists[k]);
    ssm_code rc = SSM_OK;
    if (!where || !part_of || !lists[0] || !lists[1] || !lists[2])
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; rc == SSM_OK && i < s->n; i++)
        where[i] = 0;
    series_lines it;
    series_lines_init(&it, &txt);
    const char *line, *cell;
    size_t n, len;
    int col_part[256]; // part of each column (-1: ignored)
    int ncols = 0;
    while (rc == SSM_OK && series_next_line(&it, &line, &n)) {
        const char *p = line, *end = line + n;
        int fields = 1;
        for (size_t i = 0; i < n; i++)
            fields += line[i] == ',';
        if (!ncols) { // the header
            int seen[3] = {0};
            if (fields > 256) {
                rc = ssm_fail(err, SSM_EFORMAT, "%s: line 1: %d columns: expected at most 256",
                              path, fields);
                break;
            }
            for (ncols = 0; ncols < fields; ncols++) {
                series_next_cell(&p, end, &cell, &len);
                col_part[ncols] = -1;
                for (int k = 0; k < 3; k++)
                    if (len == strlen(part_names[k]) && !memcmp(cell, part_names[k], len)) {
                        col_part[ncols] = k;
                        seen[k] = 1;
                    }
            }
            if (!seen[0] || !seen[2])
                rc = ssm_fail(err, SSM_EFORMAT,
                              "%s: line 1: a CLAM split file's header names the columns train, "
                              "val and test (train and test at least)", path);
            continue;
        }
        if (fields != ncols && n > 0) {
            rc = ssm_fail(err, SSM_EFORMAT, "%s: line %" PRId64 ": %d fields, the header has %d",
                          path, it.lineno, fields, ncols);
            break;
        }
        for (int c = 0; c < ncols && rc == SSM_OK; c++) {
            series_next_cell(&p, end, &cell, &len);
            if (col_part[c] < 0 || !len)
                continue;
            char name[512];
            snprintf(name, sizeof name, "%.*s", (int)len, cell);
            int64_t b = mil_bags_find(s, name);
            if (b < 0)
                rc = ssm_fail(err, SSM_ENOTFOUND,
                              "%s: line %" PRId64 ", column %s: slide '%s' is not in the dataset "
                              "(%s)", path, it.lineno, part_names[col_part[c]], name, s->what);
            else if (where[b])
                rc = ssm_fail(err, SSM_EDATA,
                              "%s: line %" PRId64 ": slide '%s' is already in %s (line %" PRId64
                              ")", path, it.lineno, name, part_names[part_of[b]], where[b]);
            else {
                where[b] = it.lineno;
                part_of[b] = col_part[c];
                lists[col_part[c]][counts[col_part[c]]++] = b;
            }
        }
    }
    if (rc == SSM_OK && !ncols)
        rc = ssm_fail(err, SSM_EFORMAT, "%s: empty: expected a header ,train,val,test", path);
    if (rc == SSM_OK && (!counts[0] || !counts[2]))
        rc = ssm_fail(err, SSM_EDATA, "%s: %" PRId64 " train and %" PRId64
                      " test slides: expected at least one of each", path, counts[0], counts[2]);
    series_text_free(&txt);
    free(where);
    free(part_of);
    if (rc) {
        for (int k = 0; k < 3; k++)
            free(lists[k]);
        return rc;
    }
    for (int k = 0; k < 3; k++)
        sort_ids(lists[k], counts[k]);
    sp->train = lists[0];
    sp->val = lists[1];
    sp->test = lists[2];
    sp->n_train = counts[0];
    sp->n_val = counts[1];
    sp->n_test = counts[2];
    return SSM_OK;
}

ssm_code mil_split_write_clam(const char *path, char *const *names, const mil_split *sp,
                              ssm_error *err) {
    FILE *f = fopen(path, "w");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot create", path);
    fprintf(f, ",train,val,test\n");
    int64_t rows = sp->n_train;
    rows = sp->n_val > rows ? sp->n_val : rows;
    rows = sp->n_test > rows ? sp->n_test : rows;
    for (int64_t i = 0; i < rows; i++)
        fprintf(f, "%" PRId64 ",%s,%s,%s\n", i, i < sp->n_train ? names[sp->train[i]] : "",
                i < sp->n_val ? names[sp->val[i]] : "", i < sp->n_test ? names[sp->test[i]] : "");
    if (fclose(f) != 0)
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    return SSM_OK;
}
