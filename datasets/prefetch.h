// defines: ssm_batcher_produce, ssm_prefetch_next, ssm_prefetch_stop (batcher internals)
// Shared between batch.c (the batcher) and prefetch.c (its background thread);
// not for use outside datasets/.
#pragma once
#include "datasets/batch.h"

// Makes the batch at the producer's position (bt->p_epoch, bt->p_offset) into
// *slot (or an end-of-epoch mark) and advances the producer's position.
// Records the outcome in slot->rc / slot->err and returns it.
ssm_code ssm_batcher_produce(ssm_batcher *bt, ssm_batch_slot *slot);

// The prefetching twin of ssm_batcher_next's body: starts the thread on first
// use, hands back the slot it filled and releases the one the caller held.
// Returns the filled slot (its rc says whether production failed) or NULL
// with *err filled when the thread cannot be started.
ssm_batch_slot *ssm_prefetch_next(ssm_batcher *bt, ssm_error *err);

// Stops and joins the thread (if running); prefetched slots are left as they are.
void ssm_prefetch_stop(ssm_batcher *bt);
