// defines: series_data_open, series_data_close, series_data_is_series (see series_data.h)
#include "datasets/series_data.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "datasets/ucr_source.h"

int series_data_is_series(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_ETT || dc->name == SSM_DATA_CSV || dc->name == SSM_DATA_UCR;
}

// ---- sample sources -----------------------------------------------------------

static ssm_code window_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                           int64_t *length, ssm_error *err) {
    return series_window(x, y_dense, (const series_split *)ctx, id, err);
}

static ssm_code make_batcher(ssm_batcher *bt, ssm_sample_source *src, const int64_t *ids, int64_t n,
                             int64_t batch, int shuffle, int drop_last, uint64_t seed, int prefetch,
                             ssm_error *err) {
    ssm_batcher_opts o = {.batch_size = batch, .shuffle = shuffle, .drop_last = drop_last,
                          .seed = seed, .prefetch = prefetch};
    return ssm_batcher_init(bt, src, ids, n, &o, err);
}

// ---- forecasting -----------------------------------------------------------------

static ssm_code open_forecast(series_data *d, const ssm_data_config *dc, uint64_t seed,
                              int test_too, ssm_error *err) {
    d->forecast = 1;
    series_opts so = {.layout = series_layout_from_path(d->path),
                      .mode = dc->features == SSM_FEATURES_S    ? SERIES_S
                              : dc->features == SSM_FEATURES_MS ? SERIES_MS
                                                                : SERIES_M,
                      .target = dc->target[0] ? dc->target : NULL,
                      .lookback = dc->lookback,
                      .horizon = dc->horizon,
                      .stride = dc->stride,
                      .scale = 1,
                      .time_features = dc->time_features};
    if (dc->name == SSM_DATA_ETT && so.layout == SERIES_CUSTOM)
        return ssm_fail(err, SSM_ECONFIG,
                        "data.path %s: data.name ett needs an ETTh* or ETTm* file (or use data.name csv)",
                        d->path);
    if (dc->name == SSM_DATA_CSV)
        so.layout = SERIES_CUSTOM;
    if (dc->pack || dc->series_norm != SSM_SERIES_NORM_NONE)
        return ssm_fail(err, SSM_ECONFIG, "data.%s: a ucr (classification) option; forecasting "
                        "windows are dense and scaled by the training split",
                        dc->pack ? "pack" : "series_norm");
    SSM_TRY(series_dataset_load(&d->ds, d->path, &so, err));
    for (int s = 0; s < 3; s++)
        SSM_TRY(series_split_get(&d->split[s], &d->ds, (series_split_id)s, err));
    d->T = d->ds.lookback;
    d->in_vars = d->ds.in_vars;
    d->time_feats = d->ds.time_feats;
    d->x_vars = d->ds.x_vars;
    d->horizon = d->ds.horizon;
    d->out_vars = d->ds.out_vars;
    d->out_std = malloc((size_t)d->out_vars * sizeof *d->out_std);
    if (!d->out_std)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t j = 0; j < d->out_vars; j++)
        d->out_std[j] = d->ds.std[d->ds.vars - d->out_vars + j];
    d->n_train = d->split[0].count;
    if (dc->limit > 0 && dc->limit < d->n_train)
        d->n_train = dc->limit; // the first `limit` windows (quick runs, tests)
    d->n_val = d->split[1].count;
    d->n_test = d->split[2].count;
    int64_t eval_batch = dc->eval_batch_size > 0 ? dc->eval_batch_size : dc->batch_size;
    int prefetch = dc->num_workers > 0;
    int64_t *ids = malloc((size_t)d->n_train * sizeof *ids);
    if (!ids)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < d->n_train; i++)
        ids[i] = i;
    for (int s = 0; s < 3; s++) {
        if (s == 2 && !test_too)
            break;
        ssm_sample_source src = {.ctx = &d->split[s], .n = d->split[s].count, .x_ndim = 2,
                                 .x_shape = {d->T, d->x_vars}, .dense_ndim = 2,
                                 .dense_shape = {d->horizon, d->out_vars}, .get = window_get};
        ssm_batcher *bt = s == 0 ? &d->train : s == 1 ? &d->val : &d->test;
        ssm_code rc = s == 0 ? make_batcher(bt, &src, ids, d->n_train, dc->batch_size, dc->shuffle,
                                            1, ssm_seed_derive(seed, 102), prefetch, err)
                             : make_batcher(bt, &src, NULL, src.n, eval_batch, 0, 0, seed, prefetch,
                                            err);
        if (rc) {
            free(ids);
            return rc;
        }
        d->open |= 1 << s;
    }
    free(ids);
    d->has_val = 1;
    ssm_info("data: %s: %lld train, %lld val, %lld test windows of %lld x %lld%s -> %lld x %lld",
             d->path, (long long)d->n_train, (long long)d->n_val, (long long)d->n_test,
             (long long)d->T, (long long)d->in_vars,
             d->time_feats ? " (+ 4 calendar features)" : "", (long long)d->horizon,
             (long long)d->out_vars);
    return SSM_OK;
}

// ---- classification ----------------------------------------------------------------

// One batcher over a ucr set (train: shuffled, augmented); records the token
// budget a packed one resolved.
static ssm_code ucr_batcher(series_data *d, ssm_batcher *bt, const ucr_set *set,
                            const int64_t *ids, int64_t n, const ssm_data_config *dc,
                            uint64_t seed, int train, ssm_error *err) {
    const ssm_augment_config *a = &dc->augment;
    ucr_source_opts so = {.pack = dc->pack, .patch_len = d->patch_len,
                          .patch_stride = d->patch_stride, .augment = train,
                          .aug = {.jitter = a->jitter, .scaling = a->scaling,
                                  .window_slice = a->window_slice,
                                  .window_warp = a->window_warp}};
    ssm_sample_source src;
    SSM_TRY(ucr_source(&src, set, &so, err));
    int64_t eval_batch = dc->eval_batch_size > 0 ? dc->eval_batch_size : dc->batch_size;
    // A set smaller than a batch (UEA StandWalkJump: 12 series) still trains, in one batch;
    // nothing is dropped: on a 30-series set a dropped partial batch is half the data.
    int64_t batch = train ? (dc->batch_size < n ? dc->batch_size : n) : eval_batch;
    ssm_batcher_opts o = {.batch_size = batch > 0 ? batch : 1, .shuffle = train && dc->shuffle,
                          .drop_last = 0, .seed = train ? ssm_seed_derive(seed, 102) : seed,
                          .prefetch = dc->num_workers > 0, .max_tokens = dc->max_tokens};
    SSM_TRY(ssm_batcher_init(bt, &src, ids, n, &o, err));
    if (dc->pack && bt->opts.max_tokens > d->max_tokens)
        d->max_tokens = bt->opts.max_tokens;
    return SSM_OK;
}

static ssm_code open_ucr_batchers(series_data *d, const ssm_data_config *dc, uint64_t seed,
                                  int test_too, ssm_error *err) {
    if (dc->pack) {
        d->ragged = 1;
        d->patch_len = dc->patch_len;
        d->patch_stride = dc->patch_stride;
        ucr_patch_auto(d->T, &d->patch_len, &d->patch_stride);
        d->token = d->patch_len * d->in_vars;
    } else if (dc->patch_len || dc->patch_stride) {
        return ssm_fail(err, SSM_ECONFIG, "data.patch_len / data.patch_stride cut the tokens of "
                        "data.pack: true; dense series are cut by the adapter (adapter.patch_size)");
    }
    SSM_TRY(ucr_batcher(d, &d->train, &d->ucr_train, d->ucr_train_ids, d->n_train, dc, seed, 1,
                        err));
    d->open |= 1;
    if (d->n_val > 0) {
        SSM_TRY(ucr_batcher(d, &d->val, &d->ucr_train, d->ucr_val_ids, d->n_val, dc, seed, 0,
                            err));
        d->open |= 2;
        d->has_val = 1;
    }
    if (test_too) {
        SSM_TRY(ucr_batcher(d, &d->test, &d->ucr_test, NULL, d->ucr_test.n, dc, seed, 0, err));
        d->open |= 4;
    }
    return SSM_OK;
}

static ssm_code open_ucr(series_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                         ssm_error *err) {
    d->forecast = 0;
    if (dc->time_features)
        return ssm_fail(err, SSM_ECONFIG, "data.time_features: calendar features of a "
                        "forecasting file's date column (ett, csv); ucr series have no dates");
    char test_path[SSM_CFG_PATH_MAX];
    const char *at = strstr(d->path, "_TRAIN");
    if (!at)
        return ssm_fail(err, SSM_ECONFIG,
                        "data.path %s: for data.name ucr give the training file (<Name>_TRAIN.tsv "
                        "or <Name>_TRAIN.ts); the test file is found by replacing _TRAIN with _TEST",
                        d->path);
    snprintf(test_path, sizeof test_path, "%.*s_TEST%s", (int)(at - d->path), d->path, at + 6);
    SSM_TRY(ucr_read_pair(&d->ucr_train, &d->ucr_test, d->path, test_path, NULL, err));
    d->T = d->ucr_train.len;
    d->in_vars = d->ucr_train.dims;
    d->x_vars = d->in_vars;
    d->num_classes = d->ucr_train.num_classes;
    int64_t n = d->ucr_train.n;
    if (dc->limit > 0 && dc->limit < n)
        n = dc->limit;
    int64_t n_val = (int64_t)(dc->val_fraction * (double)n);
    int64_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_code rc = ssm_epoch_order(order, n, ssm_seed_derive(seed, 101), 0, err);
    if (rc) {
        free(order);
        return rc;
    }
    // order is a permutation of 0..n-1: the first n_val are validation
    d->ucr_val_ids = order;
    d->ucr_train_ids = order + n_val;
    d->n_val = n_val;
    d->n_train = n - n_val;
    d->n_test = d->ucr_test.n;
    const ssm_series_norm norm = ucr_series_norm_resolve(dc->series_norm, d->in_vars);
    if (dc->series_norm == SSM_SERIES_NORM_AUTO)
        ssm_info("data: series_norm auto: %s (%lld channel%s)",
                 norm == SSM_SERIES_NORM_SERIES ? "each series z-normalised"
                                                : "the training set's scale per channel",
                 (long long)d->in_vars, d->in_vars == 1 ? "" : "s");
    if (norm == SSM_SERIES_NORM_SERIES) {
        ucr_znorm_set(&d->ucr_train);
        ucr_znorm_set(&d->ucr_test);
    } else if (norm == SSM_SERIES_NORM_DATASET) {
        // the training split's scale (not the validation series', not the test file's)
        d->ucr_mean = malloc((size_t)d->in_vars * sizeof *d->ucr_mean);
        d->ucr_std = malloc((size_t)d->in_vars * sizeof *d->ucr_std);
        if (!d->ucr_mean || !d->ucr_std)
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        SSM_TRY(ucr_channel_stats(&d->ucr_train, d->ucr_train_ids, d->n_train, d->ucr_mean,
                                  d->ucr_std, err));
        ucr_standardize_set(&d->ucr_train, d->ucr_mean, d->ucr_std);
        ucr_standardize_set(&d->ucr_test, d->ucr_mean, d->ucr_std);
    }
    SSM_TRY(open_ucr_batchers(d, dc, seed, test_too, err));
    ssm_info("data: %s: %lld train, %lld val, %lld test series of %lld x %lld, %lld classes", d->path,
             (long long)d->n_train, (long long)d->n_val, (long long)d->n_test, (long long)d->T,
             (long long)d->in_vars, (long long)d->num_classes);
    if (d->ragged)
        ssm_info("data: packed series, tokens of %lld steps every %lld (%lld values), at most "
                 "%lld tokens a batch", (long long)d->patch_len, (long long)d->patch_stride,
                 (long long)d->token, (long long)d->max_tokens);
    return SSM_OK;
}

ssm_code series_data_open(series_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                          ssm_error *err) {
    memset(d, 0, sizeof *d);
    if (!series_data_is_series(dc))
        return ssm_fail(err, SSM_ECONFIG, "data.name: not a series dataset (ett, csv, ucr)");
    if (!dc->path[0])
        return ssm_fail(err, SSM_ECONFIG, "data.path: empty; data.name %s needs the data file",
                        dc->name == SSM_DATA_UCR ? "ucr" : dc->name == SSM_DATA_ETT ? "ett" : "csv");
    snprintf(d->path, sizeof d->path, "%s", dc->path);
    ssm_code rc = dc->name == SSM_DATA_UCR ? open_ucr(d, dc, seed, test_too, err)
                                           : open_forecast(d, dc, seed, test_too, err);
    if (rc)
        series_data_close(d);
    return rc;
}

void series_data_close(series_data *d) {
    ssm_batchers_free(&d->train, &d->val, &d->test, (unsigned)d->open);
    if (d->forecast)
        series_dataset_free(&d->ds);
    else {
        ucr_free(&d->ucr_train);
        ucr_free(&d->ucr_test);
    }
    free(d->ucr_val_ids);
    free(d->ucr_mean);
    free(d->ucr_std);
    free(d->out_std);
    memset(d, 0, sizeof *d);
}
