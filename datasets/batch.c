// defines: ssm_batch_alloc, ssm_batch_alloc_ragged, ssm_batch_free, the batcher (see batch.h),
//          ssm_batcher_produce (the epoch orders it draws: batch_order.c)
#include "datasets/batch.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/augment.h"
#include "datasets/prefetch.h"


static int64_t numel(int ndim, const int64_t *shape) {
    int64_t m = 1;
    for (int d = 0; d < ndim; d++)
        m *= shape[d];
    return m;
}

// x_rows: samples (dense) or tokens (ragged) that x holds.
static ssm_code batch_alloc(ssm_batch *b, int64_t capacity, int64_t x_rows, int x_ndim,
                            const int64_t *x_shape, int with_y, int dense_ndim,
                            const int64_t *dense_shape, int with_length, ssm_error *err) {
    memset(b, 0, sizeof *b);
    if (capacity <= 0)
        return ssm_fail(err, SSM_EINVAL, "batch capacity %" PRId64 ": expected >= 1", capacity);
    if (x_ndim < 1 || x_ndim >= SSM_BATCH_MAX_DIMS || dense_ndim < 0 ||
        dense_ndim >= SSM_BATCH_MAX_DIMS)
        return ssm_fail(err, SSM_EINVAL,
                        "batch sample ranks x %d, y_dense %d: expected 1..%d and 0..%d", x_ndim,
                        dense_ndim, SSM_BATCH_MAX_DIMS - 1, SSM_BATCH_MAX_DIMS - 1);
    for (int d = 0; d < x_ndim; d++)
        if (x_shape[d] <= 0)
            return ssm_fail(err, SSM_EINVAL, "batch x dimension %d is %" PRId64 ": expected >= 1",
                            d + 1, x_shape[d]);
    for (int d = 0; d < dense_ndim; d++)
        if (dense_shape[d] <= 0)
            return ssm_fail(err, SSM_EINVAL,
                            "batch y_dense dimension %d is %" PRId64 ": expected >= 1", d + 1,
                            dense_shape[d]);
    b->capacity = capacity;
    b->ndim = x_ndim + 1;
    memcpy(b->shape + 1, x_shape, (size_t)x_ndim * sizeof *x_shape);
    b->x = malloc((size_t)(x_rows * numel(x_ndim, x_shape)) * sizeof *b->x);
    b->index = malloc((size_t)capacity * sizeof *b->index);
    int ok = b->x && b->index;
    if (with_y)
        ok &= (b->y = malloc((size_t)capacity * sizeof *b->y)) != NULL;
    if (dense_ndim > 0) {
        b->dense_ndim = dense_ndim + 1;
        memcpy(b->dense_shape + 1, dense_shape, (size_t)dense_ndim * sizeof *dense_shape);
        ok &= (b->y_dense = malloc((size_t)(capacity * numel(dense_ndim, dense_shape)) *
                                   sizeof *b->y_dense)) != NULL;
    }
    if (with_length)
        ok &= (b->length = malloc((size_t)capacity * sizeof *b->length)) != NULL;
    if (!ok) {
        ssm_batch_free(b);
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate a batch of %" PRId64 " samples",
                        capacity);
    }
    return SSM_OK;
}

ssm_code ssm_batch_alloc(ssm_batch *b, int64_t capacity, int x_ndim, const int64_t *x_shape,
                         int with_y, int dense_ndim, const int64_t *dense_shape, int with_length,
                         ssm_error *err) {
    return batch_alloc(b, capacity, capacity, x_ndim, x_shape, with_y, dense_ndim, dense_shape,
                       with_length, err);
}

ssm_code ssm_batch_alloc_ragged(ssm_batch *b, int64_t capacity, int64_t max_tokens, int x_ndim,
                                const int64_t *x_shape, int with_y, int dense_ndim,
                                const int64_t *dense_shape, ssm_error *err) {
    if (max_tokens <= 0) {
        memset(b, 0, sizeof *b);
        return ssm_fail(err, SSM_EINVAL, "ragged batch of %" PRId64 " tokens: expected >= 1",
                        max_tokens);
    }
    SSM_TRY(batch_alloc(b, capacity, max_tokens, x_ndim, x_shape, with_y, dense_ndim, dense_shape,
                        1, err));
    b->max_tokens = max_tokens;
    if (!(b->offsets = calloc((size_t)capacity + 1, sizeof *b->offsets))) {
        ssm_batch_free(b);
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate the offsets of a batch of %" PRId64
                        " samples", capacity);
    }
    return SSM_OK;
}

ssm_code ssm_batch_alloc_extra(ssm_batch *b, int with_tokens, int with_weight, ssm_error *err) {
    int64_t positions = b->offsets ? b->max_tokens : b->capacity * b->shape[1];
    if (with_tokens && !b->y_tokens &&
        !(b->y_tokens = malloc((size_t)positions * sizeof *b->y_tokens)))
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate the token labels of a batch");
    if (with_weight && !b->weight && !(b->weight = malloc((size_t)b->capacity * sizeof *b->weight)))
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate the weights of a batch");
    return SSM_OK;
}

void ssm_batch_free(ssm_batch *b) {
    free(b->y_tokens);
    free(b->weight);
    free(b->x);
    free(b->y);
    free(b->y_dense);
    free(b->length);
    free(b->index);
    free(b->offsets);
    memset(b, 0, sizeof *b);
}

// Epoch e's order (positions into bt->ids) into order[n]: pure in (seed, e).
static ssm_code fill_order(const ssm_batcher *bt, int64_t *order, int64_t e, ssm_error *err) {
    if (bt->cum)
        return ssm_weighted_order(order, bt->cum, bt->n, bt->opts.seed, e, err);
    if (bt->opts.shuffle)
        return ssm_epoch_order(order, bt->n, bt->opts.seed, e, err);
    for (int64_t i = 0; i < bt->n; i++)
        order[i] = i;
    return SSM_OK;
}

// The epoch whose order and sample keys epoch e uses: e, or 0 with fixed_keys.
static int64_t key_epoch(const ssm_batcher *bt, int64_t e) { return bt->opts.fixed_keys ? 0 : e; }

// Puts epoch e's order into bt->order, unless it is there.
static ssm_code ensure_order(ssm_batcher *bt, int64_t e, ssm_error *err) {
    if (bt->order_epoch == e)
        return SSM_OK;
    bt->order_epoch = -1;
    SSM_TRY(fill_order(bt, bt->order, e, err));
    bt->order_epoch = e;
    return SSM_OK;
}

static ssm_code too_long(ssm_error *err, int64_t id, int64_t count, int64_t max_tokens) {
    if (count < 1)
        return ssm_fail(err, SSM_EDATA, "sample %" PRId64 " has %" PRId64 " tokens: expected >= 1",
                        id, count);
    return ssm_fail(err, SSM_EDATA,
                    "sample %" PRId64 " has %" PRId64 " tokens, more than the %" PRId64
                    " a batch holds (data.max_tokens): raise data.max_tokens, or crop long "
                    "samples with data.max_instances",
                    id, count, max_tokens);
}

// Ragged: how many samples from position `off` of epoch e's order (order[n]) fit in
// max_tokens, at most batch_size; their counts go to len[] (may be NULL). Reads only bt's
// constant fields: safe beside the prefetch thread.
static ssm_code ragged_fit(const ssm_batcher *bt, const int64_t *order, int64_t e, int64_t off,
                           int64_t *len, int64_t *take, ssm_error *err) {
    const ssm_sample_source *src = &bt->src;
    int64_t k = 0, tokens = 0, max = bt->opts.max_tokens;
    while (k < bt->opts.batch_size && off + k < bt->n) {
        int64_t id = bt->ids[order[off + k]];
        int64_t c = src->count(src->ctx, id, ssm_augment_key(bt->opts.seed, e, id));
        if (c < 1 || c > max)
            return too_long(err, id, c, max);
        if (tokens + c > max)
            break; // the batch ends early; this sample starts the next one
        if (len)
            len[k] = c;
        tokens += c;
        k++;
    }
    *take = k;
    return SSM_OK;
}

// Ragged: the batches of epoch e (key epoch ke, order[n] filled) that start before position
// `upto`, as ssm_batcher_produce packs them (drop_last included).
static ssm_code ragged_count(const ssm_batcher *bt, const int64_t *order, int64_t ke,
                             int64_t upto, int64_t *batches, ssm_error *err) {
    int64_t off = 0, k = 0, take = 0;
    while (off < upto) {
        SSM_TRY(ragged_fit(bt, order, ke, off, NULL, &take, err));
        if (bt->opts.drop_last && take < bt->opts.batch_size && off + take == bt->n)
            break;
        k++;
        off += take;
    }
    *batches = k;
    return SSM_OK;
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

// Ragged: resolves max_tokens (0 = the exact worst case), refuses a sample that can
// never fit, and counts the batches of epoch 0.
static ssm_code plan_ragged(ssm_batcher *bt, ssm_error *err) {
    const ssm_sample_source *src = &bt->src;
    int64_t n = bt->n, bs = bt->opts.batch_size < n ? bt->opts.batch_size : n;
    int64_t *len = malloc((size_t)n * sizeof *len);
    if (!len)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate %" PRId64 " sample lengths", n);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = bt->ids[i];
        len[i] = src->count(src->ctx, id, ssm_augment_key(bt->opts.seed, 0, id));
        if (len[i] < 1 || (bt->opts.max_tokens > 0 && len[i] > bt->opts.max_tokens)) {
            ssm_code rc = too_long(err, id, len[i], bt->opts.max_tokens);
            free(len);
            return rc;
        }
    }
    if (bt->opts.max_tokens <= 0) {
        qsort(len, (size_t)n, sizeof *len, cmp_desc);
        int64_t worst = 0;
        for (int64_t i = 0; i < bs; i++) // with replacement, the longest may fill a batch
            worst += bt->cum ? len[0] : len[i];
        bt->opts.max_tokens = worst;
    }
    free(len);
    SSM_TRY(ensure_order(bt, 0, err));
    return ragged_count(bt, bt->order, 0, n, &bt->ragged_batches, err);
}

// Rank r's part of `total` items cut into `count` contiguous parts as equal as possible
// (the first total % count ranks one more): items *k0 .. *k0 + *mine.
static void shard_range(int64_t total, int rank, int count, int64_t *k0, int64_t *mine) {
    int64_t base = total / count, extra = total % count;
    *mine = base + (rank < extra);
    *k0 = rank * base + (rank < extra ? rank : extra);
}

static void reset_slots(ssm_batcher *bt) {
    for (int s = 0; s < 2; s++) {
        bt->slot[s].state = 0;
        bt->slot[s].end = 0;
        bt->slot[s].rc = SSM_OK;
    }
    bt->held = -1;
    bt->take = bt->fill = 0;
    bt->failed = SSM_OK;
}

ssm_code ssm_batcher_init(ssm_batcher *bt, const ssm_sample_source *src, const int64_t *ids,
                          int64_t n_ids, const ssm_batcher_opts *opts, ssm_error *err) {
    memset(bt, 0, sizeof *bt);
    bt->src = *src;
    bt->opts = *opts;
    bt->order_epoch = -1;
    bt->held = -1;
    pthread_mutex_init(&bt->mu, NULL);
    pthread_cond_init(&bt->cv, NULL);
    ssm_code rc;
    if (opts->batch_size <= 0) {
        rc = ssm_fail(err, SSM_EINVAL, "batch_size %" PRId64 ": expected >= 1", opts->batch_size);
        goto fail;
    }
    bt->n = ids ? n_ids : src->n;
    if (bt->n <= 0) {
        rc = ssm_fail(err, SSM_EINVAL, "the split has %" PRId64 " samples: expected >= 1", bt->n);
        goto fail;
    }
    bt->ids = malloc((size_t)bt->n * sizeof *bt->ids);
    bt->order = malloc((size_t)bt->n * sizeof *bt->order);
    if (!bt->ids || !bt->order) {
        rc = ssm_fail(err, SSM_ENOMEM, "cannot allocate the order of %" PRId64 " samples", bt->n);
        goto fail;
    }
    for (int64_t i = 0; i < bt->n; i++) {
        bt->ids[i] = ids ? ids[i] : i;
        if (bt->ids[i] < 0 || bt->ids[i] >= src->n) {
            rc = ssm_fail(err, SSM_EINVAL,
                          "split id %" PRId64 " at position %" PRId64
                          " is out of range: the source has %" PRId64 " samples",
                          bt->ids[i], i, src->n);
            goto fail;
        }
    }
    if (opts->sample_weights) {
        bt->opts.sample_weights = NULL; // not kept: the caller's array may go; bt->cum is ours
        if (!(bt->cum = malloc((size_t)bt->n * sizeof *bt->cum))) {
            rc = ssm_fail(err, SSM_ENOMEM, "cannot allocate %" PRId64 " sample weights", bt->n);
            goto fail;
        }
        double acc = 0;
        for (int64_t i = 0; i < bt->n; i++) {
            double w = opts->sample_weights[i];
            if (!isfinite(w) || w < 0) {
                rc = ssm_fail(err, SSM_EINVAL,
                              "sampling weight %g of sample %" PRId64 " (position %" PRId64
                              "): expected a finite weight >= 0", w, bt->ids[i], i);
                goto fail;
            }
            bt->cum[i] = acc += w;
        }
        if (!(acc > 0)) {
            rc = ssm_fail(err, SSM_EINVAL, "the sampling weights of the split sum to %g: expected > 0",
                          acc);
            goto fail;
        }
    }
    if (src->ragged) {
        if (!src->count) {
            rc = ssm_fail(err, SSM_EINVAL, "a ragged sample source needs count");
            goto fail;
        }
        if ((rc = plan_ragged(bt, err)))
            goto fail;
    }
    for (int s = 0; s < 2; s++) {
        rc = src->ragged
                 ? ssm_batch_alloc_ragged(&bt->slot[s].batch, opts->batch_size, bt->opts.max_tokens,
                                          src->x_ndim, src->x_shape, src->has_y, src->dense_ndim,
                                          src->dense_shape, err)
                 : ssm_batch_alloc(&bt->slot[s].batch, opts->batch_size, src->x_ndim, src->x_shape,
                                   src->has_y, src->dense_ndim, src->dense_shape, src->has_length,
                                   err);
        if (rc == SSM_OK && (src->has_tokens || src->has_weight) && !src->get_extra)
            rc = ssm_fail(err, SSM_EINVAL, "a sample source with token labels or weights needs "
                                           "get_extra");
        if (rc == SSM_OK)
            rc = ssm_batch_alloc_extra(&bt->slot[s].batch, src->has_tokens, src->has_weight, err);
        bt->slot[s].batch.dense_kind = src->dense_kind;
        if (rc != SSM_OK)
            goto fail;
    }
    return SSM_OK;
fail:
    ssm_batcher_free(bt);
    return rc;
}

void ssm_batchers_free(ssm_batcher *train, ssm_batcher *val, ssm_batcher *test, unsigned open) {
    if (open & 1)
        ssm_batcher_free(train);
    if (open & 2)
        ssm_batcher_free(val);
    if (open & 4)
        ssm_batcher_free(test);
}

void ssm_batcher_free(ssm_batcher *bt) {
    ssm_prefetch_stop(bt);
    for (int s = 0; s < 2; s++)
        ssm_batch_free(&bt->slot[s].batch);
    free(bt->ids);
    free(bt->order);
    free(bt->cum);
    bt->cum = NULL;
    if (bt->src.free)
        bt->src.free(bt->src.ctx);
    bt->src.free = NULL;
    bt->ids = bt->order = NULL;
    pthread_mutex_destroy(&bt->mu);
    pthread_cond_destroy(&bt->cv);
}

int64_t ssm_batcher_batches_per_epoch(const ssm_batcher *bt) {
    if (bt->src.ragged)
        return bt->ragged_batches;
    int64_t bs = bt->opts.batch_size;
    return bt->opts.drop_last ? bt->n / bs : (bt->n + bs - 1) / bs;
}

// Dense: batches starting before `upto` are ceil(upto / bs), less a short final one that
// drop_last skips.
static int64_t dense_count(const ssm_batcher *bt, int64_t upto) {
    int64_t bs = bt->opts.batch_size, k = (upto + bs - 1) / bs;
    if (bt->opts.drop_last && k > bt->n / bs)
        k = bt->n / bs;
    return k;
}

// Every epoch packs alike: its order and keys are epoch 0's.
static int same_every_epoch(const ssm_batcher *bt) {
    return bt->opts.fixed_keys;
}

ssm_code ssm_batcher_batches_before(const ssm_batcher *bt, int64_t epoch, int64_t offset,
                                    int64_t *batches, ssm_error *err) {
    *batches = 0;
    if (epoch < 0 || offset < 0 || offset > bt->n)
        return ssm_fail(err, SSM_EINVAL,
                        "batcher position (epoch %" PRId64 ", offset %" PRId64
                        "): expected epoch >= 0 and offset in 0..%" PRId64, epoch, offset, bt->n);
    if (!bt->src.ragged) {
        *batches = dense_count(bt, offset);
        return SSM_OK;
    }
    if (offset == bt->n && same_every_epoch(bt)) {
        *batches = bt->ragged_batches;
        return SSM_OK;
    }
    int64_t *order = malloc((size_t)bt->n * sizeof *order);
    if (!order)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate the order of %" PRId64 " samples", bt->n);
    const int64_t ke = key_epoch(bt, epoch);
    ssm_code rc = fill_order(bt, order, ke, err);
    if (rc == SSM_OK)
        rc = ragged_count(bt, order, ke, offset, batches, err);
    free(order);
    if (rc)
        ssm_error_prefix(err, "counting the batches of epoch %" PRId64 ": ", epoch);
    return rc;
}

ssm_code ssm_batcher_batches_in_epochs(const ssm_batcher *bt, int64_t e0, int64_t e1,
                                       int64_t cap, int64_t *batches, ssm_error *err) {
    *batches = 0;
    if (e0 < 0 || e1 < e0)
        return ssm_fail(err, SSM_EINVAL, "epochs %" PRId64 "..%" PRId64 ": expected 0 <= first "
                        "<= end", e0, e1);
    if (!bt->src.ragged || same_every_epoch(bt)) {
        *batches = (e1 - e0) * ssm_batcher_batches_per_epoch(bt);
        return SSM_OK;
    }
    for (int64_t e = e0; e < e1 && (cap <= 0 || *batches < cap); e++) {
        int64_t k;
        SSM_TRY(ssm_batcher_batches_before(bt, e, bt->n, &k, err));
        *batches += k;
    }
    return SSM_OK;
}

ssm_code ssm_batcher_produce(ssm_batcher *bt, ssm_batch_slot *slot) {
    int64_t e = bt->p_epoch, off = bt->p_offset, bs = bt->opts.batch_size;
    const int64_t ke = key_epoch(bt, e); // the order and the sample keys
    int64_t take = bt->n - off < bs ? bt->n - off : bs;
    ssm_batch *b = &slot->batch;
    const ssm_sample_source *src = &bt->src;
    slot->rc = SSM_OK;
    slot->end = 0;
    if (take > 0) {
        slot->rc = ensure_order(bt, ke, &slot->err);
        if (slot->rc == SSM_OK && src->ragged) // ragged: fewer when max_tokens is reached
            slot->rc = ragged_fit(bt, bt->order, ke, off, b->length, &take, &slot->err);
        if (slot->rc != SSM_OK) {
            ssm_error_prefix(&slot->err, "epoch %" PRId64 ", batch at offset %" PRId64 ": ", e,
                             off);
            return slot->rc;
        }
    }
    if (take <= 0 || (bt->opts.drop_last && take < bs && off + take == bt->n)) {
        slot->end = 1;
        b->B = 0;
        bt->p_epoch = slot->next_epoch = e + 1;
        bt->p_offset = slot->next_offset = 0;
        return SSM_OK;
    }
    // a rank's shard of the global batch: its samples k0 .. k0 + mine of the take
    int64_t k0 = 0, mine = take;
    if (bt->shard_mode == SSM_SHARD_BATCH)
        shard_range(take, bt->shard_rank, bt->shard_count, &k0, &mine);
    if (src->ragged && k0) // ragged_fit wrote the whole batch's lengths
        memmove(b->length, b->length + k0, (size_t)mine * sizeof *b->length);
    // per sample (dense) or per token (ragged)
    int64_t xn = numel(src->x_ndim, src->x_shape), dn = numel(src->dense_ndim, src->dense_shape);
    int64_t tokens = 0;
    if (src->ragged)
        b->offsets[0] = 0;
    for (int64_t k = 0; k < mine; k++) {
        int64_t id = bt->ids[bt->order[off + k0 + k]];
        int64_t want = src->ragged ? b->length[k] : 0;
        int64_t row = src->ragged ? tokens : k; // x's first row for this sample
        b->index[k] = id;
        slot->rc = src->get(src->ctx, id, ssm_augment_key(bt->opts.seed, ke, id), b->x + row * xn,
                            b->y ? b->y + k : NULL, b->y_dense ? b->y_dense + k * dn : NULL,
                            b->length ? b->length + k : NULL, &slot->err);
        if (slot->rc == SSM_OK && src->ragged && b->length[k] != want)
            slot->rc = ssm_fail(&slot->err, SSM_EINVAL,
                                "sample %" PRId64 ": the source wrote %" PRId64
                                " tokens, its count said %" PRId64, id, b->length[k], want);
        if (slot->rc == SSM_OK && src->get_extra) {
            int32_t *yt = !b->y_tokens ? NULL
                          : src->ragged ? b->y_tokens + tokens
                                        : b->y_tokens + k * b->shape[1];
            slot->rc = src->get_extra(src->ctx, id, yt, b->weight ? b->weight + k : NULL,
                                      &slot->err);
        }
        if (slot->rc != SSM_OK) {
            ssm_error_prefix(&slot->err, "epoch %" PRId64 ", batch at offset %" PRId64 ": ", e,
                             off);
            return slot->rc;
        }
        if (src->ragged)
            b->offsets[k + 1] = tokens += want;
    }
    b->B = mine;
    b->global_B = take;
    b->shape[0] = src->ragged ? tokens : mine;
    b->tokens = tokens;
    if (b->dense_ndim)
        b->dense_shape[0] = mine;
    b->epoch = ke;
    b->offset = off;
    b->position = bt->shard_first + off + k0;
    bt->p_epoch = slot->next_epoch = e;
    bt->p_offset = slot->next_offset = off + take;
    return SSM_OK;
}

ssm_code ssm_batcher_next(ssm_batcher *bt, const ssm_batch **out, ssm_error *err) {
    *out = NULL;
    if (bt->failed != SSM_OK) {
        if (err)
            *err = bt->failed_err;
        return bt->failed;
    }
    ssm_batch_slot *slot;
    if (bt->opts.prefetch) {
        slot = ssm_prefetch_next(bt, err);
        if (!slot)
            return err ? err->code : SSM_EIO;
    } else {
        slot = &bt->slot[0];
        bt->p_epoch = bt->epoch;
        bt->p_offset = bt->offset;
        ssm_batcher_produce(bt, slot);
    }
    if (slot->rc != SSM_OK) {
        bt->failed = slot->rc;
        bt->failed_err = slot->err;
        bt->failed_err.code = slot->rc;
        if (err)
            *err = bt->failed_err;
        return slot->rc;
    }
    bt->epoch = slot->next_epoch;
    bt->offset = slot->next_offset;
    *out = slot->end ? NULL : &slot->batch;
    return SSM_OK;
}

ssm_code ssm_batcher_shard(ssm_batcher *bt, ssm_shard_mode mode, int rank, int count,
                           ssm_error *err) {
    if (count < 1 || rank < 0 || rank >= count || bt->shard_mode)
        return ssm_fail(err, SSM_EINVAL, "shard %d of %d%s: expected 0 <= rank < count, once",
                        rank, count, bt->shard_mode ? " (the batcher is already sharded)" : "");
    if (mode == SSM_SHARD_SPLIT && (bt->opts.shuffle || bt->cum))
        return ssm_fail(err, SSM_EINVAL, "a shuffled or weighted split cannot be cut into "
                        "ranges: its order changes every epoch");
    SSM_TRY(ssm_batcher_seek(bt, 0, 0, err)); // nothing prefetched with the old layout
    bt->shard_mode = mode;
    bt->shard_rank = rank;
    bt->shard_count = count;
    if (mode == SSM_SHARD_SPLIT) { // this rank's range of ids, batched as before
        int64_t k0, mine;
        shard_range(bt->n, rank, count, &k0, &mine);
        memmove(bt->ids, bt->ids + k0, (size_t)mine * sizeof *bt->ids);
        bt->n = mine;
        bt->shard_first = k0;
        bt->order_epoch = -1;
    }
    return SSM_OK;
}

void ssm_batcher_tell(const ssm_batcher *bt, int64_t *epoch, int64_t *offset) {
    *epoch = bt->epoch;
    *offset = bt->offset;
}

ssm_code ssm_batcher_seek(ssm_batcher *bt, int64_t epoch, int64_t offset, ssm_error *err) {
    if (epoch < 0 || offset < 0 || offset > bt->n)
        return ssm_fail(err, SSM_EINVAL,
                        "batcher position (epoch %" PRId64 ", offset %" PRId64
                        "): expected epoch >= 0 and offset in 0..%" PRId64, epoch, offset, bt->n);
    ssm_prefetch_stop(bt);
    reset_slots(bt);
    bt->epoch = bt->p_epoch = epoch;
    bt->offset = bt->p_offset = offset;
    return SSM_OK;
}
