// defines: ssm_batch, ssm_batch_alloc, ssm_batch_free, ssm_sample_source, ssm_batcher,
//          ssm_batcher_opts, ssm_batcher_init, ssm_batcher_next, ssm_batcher_tell,
//          ssm_batcher_seek, ssm_batcher_batches_per_epoch, ssm_batcher_free,
//          ssm_epoch_order, SSM_BATCH_MAX_DIMS, ssm_dense_kind, ssm_batch_alloc_extra,
//          ssm_batch_alloc_ragged, ssm_weighted_order, ssm_batcher_batches_before,
//          ssm_batcher_batches_in_epochs, ssm_shard_mode, ssm_batcher_shard,
//          ssm_batchers_free
// The batch the rest of ssmkit consumes, and the batcher that makes batches
// from any sample source (an in-memory image dataset today; time-series
// windows or bags of features later, through the same struct).
//
// Reproducibility (DESIGN.md invariant 8): an epoch's order is a pure
// function of (seed, epoch) and each sample's augmentation a pure function of
// (seed, epoch, sample id). A batch is therefore a pure function of (seed,
// epoch, offset): with or without the prefetch thread, and after a resume
// from a saved (epoch, offset), the batches are bitwise identical.
#pragma once
#include <pthread.h>
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#define SSM_BATCH_MAX_DIMS 5 // rank of x including the batch dimension

// What y_dense holds, so that a task can refuse data that does not fit its loss.
typedef enum {
    SSM_DENSE_VALUES = 0, // real-valued targets: forecast horizons [H, V], regression values
    SSM_DENSE_PROBS,      // a distribution over classes [V] (soft labels, mixup): rows sum to 1
    SSM_DENSE_MULTI_HOT,  // 0/1 per class [V] (multi-label)
} ssm_dense_kind;

// One batch. Everything a task of today or of the planned ones (MIL bags, audio clips,
// multi-label, per-point segmentation) reads:
//   inputs     x, dense [B, shape[1..]] (a padded sample may give its true `length`
//              along dim 1); ragged inputs (bags of 30..100,000 instances, clips of any
//              length) are packed without padding, see "Ragged batches" below
//   targets    y (a class index), y_dense (dense_kind: real values, soft or multi-hot
//              labels), y_tokens (a class per position along dim 1: segmentation)
//   weights    weight (per sample, e.g. class re-balancing), optional
typedef struct {
    int64_t B;                          // samples in this batch (== shape[0], <= capacity)
    int64_t capacity;                   // samples the buffers hold
    int ndim;                           // rank of x, batch dimension included
    int64_t shape[SSM_BATCH_MAX_DIMS];  // x: [B, C, H, W] images, [B, L, V] series, [B, N, F] bags
    real *x;                            // [B, shape[1..ndim)] model input, normalised
    int32_t *y;                         // [B] class labels, or NULL
    int dense_ndim;                     // rank of y_dense including B (0: no dense targets)
    int64_t dense_shape[SSM_BATCH_MAX_DIMS]; // y_dense: e.g. [B, H, V] forecast targets
    real *y_dense;                      // [B, dense_shape[1..dense_ndim)] or NULL
    ssm_dense_kind dense_kind;          // what y_dense holds
    int32_t *y_tokens;                  // [B, shape[1]] a class per position (-1: none,
                                        // padding), or NULL
    real *weight;                       // [B] sample weights, or NULL (all 1)
    int64_t *length;                    // [B] valid length along x's dim 1 (ragged), or NULL
    int64_t *index;                     // [B] sample ids in the source
    int64_t epoch;                      // epoch this batch belongs to (the epoch of its
                                        // order and sample keys: 0 with opts.fixed_keys)
    int64_t offset;                     // position of its first sample in the epoch's order
    int64_t global_B;                   // samples of the global batch this is a rank's shard
                                        // of (ssm_batcher_shard); == B unsharded
    int64_t position;                   // position of its first sample in the epoch's order
                                        // of the whole split: offset, plus the rank's slice
                                        // start (SSM_SHARD_BATCH) or range start
                                        // (SSM_SHARD_SPLIT); the same on any number of ranks
    // Ragged batches (a source with `ragged`, core/packing.h): the samples' tokens are
    // packed without padding: x is [tokens, <token shape>] (shape[0] = tokens, the rest
    // the source's x_shape), sample b is rows offsets[b] .. offsets[b+1] (length[b] =
    // their count); y_tokens, when present, is [tokens]. NULL / 0 for dense batches.
    int64_t *offsets;                   // [capacity + 1]
    int64_t tokens;                     // offsets[B]
    int64_t max_tokens;                 // rows x holds (the batcher's max_tokens)
} ssm_batch;

// Allocates buffers for `capacity` samples of per-sample shape x_shape[x_ndim]
// (dense_shape[dense_ndim] for y_dense, dense_ndim 0 = none); with_y /
// with_length pick the optional arrays. B starts at 0.
ssm_code ssm_batch_alloc(ssm_batch *b, int64_t capacity, int x_ndim, const int64_t *x_shape,
                         int with_y, int dense_ndim, const int64_t *dense_shape, int with_length,
                         ssm_error *err);
// The optional arrays of the tasks to come: y_tokens [capacity, x_shape[0]] when
// with_tokens, weight [capacity] when with_weight (after ssm_batch_alloc).
// For a ragged batch y_tokens is [max_tokens].
ssm_code ssm_batch_alloc_extra(ssm_batch *b, int with_tokens, int with_weight, ssm_error *err);
// A ragged batch: x [max_tokens, token shape x_shape[x_ndim]], offsets [capacity + 1] and
// length [capacity] always, y [capacity] when with_y, y_dense [capacity, dense_shape].
ssm_code ssm_batch_alloc_ragged(ssm_batch *b, int64_t capacity, int64_t max_tokens, int x_ndim,
                                const int64_t *x_shape, int with_y, int dense_ndim,
                                const int64_t *dense_shape, ssm_error *err);
void ssm_batch_free(ssm_batch *b);

// Where samples come from. `get` writes one sample: x [x_shape], and when the
// source declares them, *y, y_dense [dense_shape], *length. `key` is the
// sample's random key (ssm_augment_key(seed, epoch, id)); a source that
// augments must draw every random choice from it. get is called from the
// prefetch thread when prefetching, never from two threads at once.
typedef struct {
    void *ctx;
    int64_t n;                               // samples in the source (ids 0..n-1)
    int x_ndim;                              // per-sample rank of x
    int64_t x_shape[SSM_BATCH_MAX_DIMS - 1]; // [x_ndim]
    int has_y;
    int dense_ndim;                              // 0: no dense targets
    int64_t dense_shape[SSM_BATCH_MAX_DIMS - 1]; // [dense_ndim]
    int has_length;
    ssm_code (*get)(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                    int64_t *length, ssm_error *err);
    ssm_dense_kind dense_kind;               // what y_dense holds (default: real values)
    // Optional, for sources that declare them: per-position labels y_tokens [x_shape[0]]
    // (has_tokens) and the sample's weight (has_weight); called after get, same thread.
    int has_tokens, has_weight;
    ssm_code (*get_extra)(void *ctx, int64_t id, int32_t *y_tokens, real *weight,
                          ssm_error *err);
    void (*free)(void *ctx); // called by ssm_batcher_free (may be NULL)
    // Ragged sources (bags, clips): x_shape is ONE token's shape and a sample is count()
    // tokens; get writes them all at x (count * prod(x_shape) values) and sets *length
    // (the batcher refuses a length other than count); get_extra writes y_tokens [count].
    // count is pure in (id, key) (a source that crops or samples a bag draws from key) and
    // only reads: the batcher's caller counts batches (ssm_batcher_batches_before) while the
    // prefetch thread packs the next one.
    // The batcher calls count for every split id at init (with the keys of epoch 0) to
    // plan max_tokens and to refuse a sample that can never fit; a source whose count
    // varies with the key should be given an explicit max_tokens.
    int ragged;
    int64_t (*count)(void *ctx, int64_t id, uint64_t key);
} ssm_sample_source;

typedef struct {
    int64_t batch_size;
    int shuffle;     // 0: ids in the order given, every epoch
    int drop_last;   // 1: the last, partial batch of an epoch is skipped
    uint64_t seed;   // drives shuffling and augmentation keys
    int prefetch;    // 1: a background thread prepares the next batch
    // Ragged sources: the rows of x a batch holds. A batch ends early (fewer than
    // batch_size samples) when the next sample would overflow it, so a batch never holds
    // more; a single sample longer than max_tokens is an error naming it and the limit.
    // 0: the sum of the batch_size longest samples (exact worst case, computed at init;
    // with sample_weights a sample may repeat in a batch: batch_size times the longest).
    // ssm_batcher_init writes the value it resolved into bt->opts.max_tokens.
    // drop_last on a ragged source skips an epoch's final batch when it holds fewer than
    // batch_size samples because the epoch ran out (batches ended early by max_tokens stay).
    int64_t max_tokens;
    // Optional sampling weights [n_ids] (CLAM's class-balanced sampler): an epoch is n
    // draws with replacement, probability proportional to the weight, seeded by (seed,
    // epoch) (ssm_weighted_order); shuffle is then irrelevant. Copied at init. Weights
    // must be finite and >= 0 with a positive sum. NULL: a permutation (shuffle) or the
    // ids in order.
    const double *sample_weights;
    // 1: every epoch is epoch 0 again: the same order and the same sample keys (crops,
    // augmentation), batches say epoch 0; the position (tell) still moves on. Evaluation
    // batchers: every evaluation of a model sees the same data, so two passes give the
    // same metrics (0: keys of (seed, epoch, id), fresh each epoch, for training).
    int fixed_keys;
} ssm_batcher_opts;

// A slot is one batch buffer: the caller holds one while the prefetch thread
// fills the other (double buffering).
typedef struct {
    ssm_batch batch;
    int state;        // 0 empty, 1 ready, 2 held by the caller
    int end;          // this slot marks the end of an epoch (no samples)
    ssm_code rc;      // the producer's result for this slot
    ssm_error err;
    int64_t next_epoch, next_offset; // position after this slot
} ssm_batch_slot;

typedef struct {
    ssm_sample_source src;
    ssm_batcher_opts opts;
    int64_t n;              // ids in this split
    int64_t *ids;           // [n] source ids of the split (owned copy)
    int64_t *order;         // [n] the producer's current epoch order (positions into ids)
    int64_t order_epoch;    // epoch `order` holds, -1 = none
    int64_t epoch, offset;  // the caller's position: where the next batch starts
    int64_t p_epoch, p_offset; // the producer's position (ahead of the caller when prefetching)
    ssm_batch_slot slot[2];
    int held;               // slot the caller holds, -1 = none
    int take;               // next slot the caller takes / the producer fills
    int fill;
    ssm_code failed;        // sticky error once the producer failed
    double *cum;            // [n] cumulative sample_weights (owned copy), or NULL
    int64_t ragged_batches; // ragged: batches of epoch 0 (see batches_per_epoch)
    ssm_error failed_err;
    int shard_mode, shard_rank, shard_count; // ssm_batcher_shard (mode 0: not sharded)
    int64_t shard_first;    // SSM_SHARD_SPLIT: the split position of this rank's first id
    // prefetch thread
    int running, stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} ssm_batcher;

// Takes ownership of *src (ssm_batcher_free calls src->free), even on error.
// The prefetch thread holds bt's address: never copy or move a batcher.
// ids [n_ids] selects the split's samples (NULL: all of 0..src->n-1). Starts
// at epoch 0, offset 0.
ssm_code ssm_batcher_init(ssm_batcher *bt, const ssm_sample_source *src, const int64_t *ids,
                          int64_t n_ids, const ssm_batcher_opts *opts, ssm_error *err);
void ssm_batcher_free(ssm_batcher *bt);
// A data recipe's three batchers: frees train, val and test where bit 1, 2 and 4 of `open`
// says it was initialised.
void ssm_batchers_free(ssm_batcher *train, ssm_batcher *val, ssm_batcher *test, unsigned open);

// The next batch of the current epoch, in *out (valid until the next call of
// next/seek/free). At the end of an epoch *out is NULL and the position moves
// to (epoch + 1, 0). A producer error is returned here, and again on every
// later call until a seek.
ssm_code ssm_batcher_next(ssm_batcher *bt, const ssm_batch **out, ssm_error *err);

// The caller's position: the batch the next call returns starts at sample
// `offset` of `epoch`'s order. Save it with a checkpoint; seek to it to resume.
void ssm_batcher_tell(const ssm_batcher *bt, int64_t *epoch, int64_t *offset);
// offset in [0, n]; seeking discards anything prefetched.
ssm_code ssm_batcher_seek(ssm_batcher *bt, int64_t epoch, int64_t offset, ssm_error *err);

// Data-parallel ranks (docs/distributed.md): what rank `rank` of `count` reads.
//   SSM_SHARD_BATCH (training): every batch is the one-process batch at the same position,
//     sample for sample, cut into `count` contiguous slices as equal as possible (the first
//     B % count ranks one sample more); rank r's slice is its batch (B), global_B the whole
//     one's. A slice may be empty (B 0) when the global batch has fewer samples than ranks.
//     Positions (tell, seek, epoch, offset) stay the global batch's: a checkpoint's
//     position is the same for any number of ranks.
//   SSM_SHARD_SPLIT (evaluation): the split's ids, in order, cut into `count` contiguous
//     ranges; the batcher then sees only rank r's range (n shrinks) and batches it as
//     usual, so every sample is evaluated once, on one rank, whatever the batch size
//     (refused for a shuffled or weighted split).
// Call once, before the first batch; it rewinds to (0, 0).
typedef enum { SSM_SHARD_BATCH = 1, SSM_SHARD_SPLIT } ssm_shard_mode;
ssm_code ssm_batcher_shard(ssm_batcher *bt, ssm_shard_mode mode, int rank, int count,
                           ssm_error *err);

// Dense sources: ceil(n / batch_size) (floor with drop_last). Ragged sources: the number
// of batches of epoch 0 (computed at init). A ragged batch ends early when the next sample
// would overflow max_tokens, so a shuffled or weighted epoch may pack a few batches more or
// fewer than epoch 0 (never when max_tokens is the default worst case: every batch then
// holds batch_size samples). Step counts (the schedule's total, warmup, progress) take the
// exact figures below.
int64_t ssm_batcher_batches_per_epoch(const ssm_batcher *bt);
// The batches of epoch `epoch` that start before position `offset` of its order (offset
// n: every batch of the epoch; the batch at a resumed position is number *batches), exactly
// as ssm_batcher_next will pack them: dense sources by arithmetic, ragged ones by packing
// the epoch's order again from the counts (pure in (seed, epoch); no sample is read).
// Safe while the prefetch thread runs. An error: a sample of that epoch can never fit.
ssm_code ssm_batcher_batches_before(const ssm_batcher *bt, int64_t epoch, int64_t offset,
                                    int64_t *batches, ssm_error *err);
// The batches of epochs e0 .. e1-1 together, exactly (the schedule's total steps and
// warmup steps); O((e1 - e0) n) count calls for a ragged source that reshuffles. cap > 0:
// stop counting once the sum reaches cap (train.max_steps: the sum is then >= cap).
ssm_code ssm_batcher_batches_in_epochs(const ssm_batcher *bt, int64_t e0, int64_t e1,
                                       int64_t cap, int64_t *batches, ssm_error *err);

// The permutation of 0..n-1 used as epoch `epoch`'s order for `seed` (pure).
ssm_code ssm_epoch_order(int64_t *order, int64_t n, uint64_t seed, int64_t epoch, ssm_error *err);
// Epoch `epoch`'s order under sampling weights: n draws with replacement of positions
// 0..n-1, position i with probability (cum[i] - cum[i-1]) / cum[n-1] (cum: the running
// sum of the weights). Pure in (cum, seed, epoch).
ssm_code ssm_weighted_order(int64_t *order, const double *cum, int64_t n, uint64_t seed,
                            int64_t epoch, ssm_error *err);
