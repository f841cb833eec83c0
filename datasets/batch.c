// defines: ssm_batch_alloc, ssm_batch_free, the batcher (see batch.h), ssm_batcher_produce
#include "datasets/batch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/augment.h"
#include "datasets/prefetch.h"

// Keeps the shuffling's random stream apart from the augmentation's.
#define SHUFFLE_STREAM 0x73687566ull // "shuf"

static int64_t numel(int ndim, const int64_t *shape) {
    int64_t m = 1;
    for (int d = 0; d < ndim; d++)
        m *= shape[d];
    return m;
}

ssm_code ssm_batch_alloc(ssm_batch *b, int64_t capacity, int x_ndim, const int64_t *x_shape,
                         int with_y, int dense_ndim, const int64_t *dense_shape, int with_length,
                         ssm_error *err) {
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
    b->x = malloc((size_t)(capacity * numel(x_ndim, x_shape)) * sizeof *b->x);
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

ssm_code ssm_batch_alloc_extra(ssm_batch *b, int with_tokens, int with_weight, ssm_error *err) {
    if (with_tokens && !b->y_tokens &&
        !(b->y_tokens = malloc((size_t)(b->capacity * b->shape[1]) * sizeof *b->y_tokens)))
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
    memset(b, 0, sizeof *b);
}

ssm_code ssm_epoch_order(int64_t *order, int64_t n, uint64_t seed, int64_t epoch, ssm_error *err) {
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    // A fresh generator per epoch, seeded from (seed, epoch) alone: the order
    // never depends on how many numbers earlier epochs drew.
    ssm_rng r;
    SSM_TRY(ssm_rng_init(&r, ssm_seed_derive(ssm_seed_derive(seed, SHUFFLE_STREAM),
                                             (uint64_t)epoch), err));
    ssm_rng_shuffle(&r, order, (size_t)n);
    ssm_rng_free(&r);
    return SSM_OK;
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
    for (int s = 0; s < 2; s++) {
        rc = ssm_batch_alloc(&bt->slot[s].batch, opts->batch_size, src->x_ndim, src->x_shape,
                             src->has_y, src->dense_ndim, src->dense_shape, src->has_length, err);
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

void ssm_batcher_free(ssm_batcher *bt) {
    ssm_prefetch_stop(bt);
    for (int s = 0; s < 2; s++)
        ssm_batch_free(&bt->slot[s].batch);
    free(bt->ids);
    free(bt->order);
    if (bt->src.free)
        bt->src.free(bt->src.ctx);
    bt->src.free = NULL;
    bt->ids = bt->order = NULL;
    pthread_mutex_destroy(&bt->mu);
    pthread_cond_destroy(&bt->cv);
}

int64_t ssm_batcher_batches_per_epoch(const ssm_batcher *bt) {
    int64_t bs = bt->opts.batch_size;
    return bt->opts.drop_last ? bt->n / bs : (bt->n + bs - 1) / bs;
}

ssm_code ssm_batcher_produce(ssm_batcher *bt, ssm_batch_slot *slot) {
    int64_t e = bt->p_epoch, off = bt->p_offset, bs = bt->opts.batch_size;
    int64_t take = bt->n - off < bs ? bt->n - off : bs;
    slot->rc = SSM_OK;
    slot->end = 0;
    if (take <= 0 || (bt->opts.drop_last && take < bs)) {
        slot->end = 1;
        slot->batch.B = 0;
        bt->p_epoch = slot->next_epoch = e + 1;
        bt->p_offset = slot->next_offset = 0;
        return SSM_OK;
    }
    if (bt->order_epoch != e) {
        if (bt->opts.shuffle) {
            slot->rc = ssm_epoch_order(bt->order, bt->n, bt->opts.seed, e, &slot->err);
            if (slot->rc != SSM_OK)
                return slot->rc;
        } else {
            for (int64_t i = 0; i < bt->n; i++)
                bt->order[i] = i;
        }
        bt->order_epoch = e;
    }
    ssm_batch *b = &slot->batch;
    const ssm_sample_source *src = &bt->src;
    int64_t xn = numel(src->x_ndim, src->x_shape), dn = numel(src->dense_ndim, src->dense_shape);
    for (int64_t k = 0; k < take; k++) {
        int64_t id = bt->ids[bt->order[off + k]];
        b->index[k] = id;
        slot->rc = src->get(src->ctx, id, ssm_augment_key(bt->opts.seed, e, id), b->x + k * xn,
                            b->y ? b->y + k : NULL, b->y_dense ? b->y_dense + k * dn : NULL,
                            b->length ? b->length + k : NULL, &slot->err);
        if (slot->rc == SSM_OK && src->get_extra)
            slot->rc = src->get_extra(src->ctx, id, b->y_tokens ? b->y_tokens + k * b->shape[1] : NULL,
                                      b->weight ? b->weight + k : NULL, &slot->err);
        if (slot->rc != SSM_OK) {
            ssm_error_prefix(&slot->err, "epoch %" PRId64 ", batch at offset %" PRId64 ": ", e,
                             off);
            return slot->rc;
        }
    }
    b->B = b->shape[0] = take;
    if (b->dense_ndim)
        b->dense_shape[0] = take;
    b->epoch = e;
    b->offset = off;
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
