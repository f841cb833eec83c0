// defines: ssm_prefetch_next, ssm_prefetch_stop (see prefetch.h)
// A background thread that prepares the next batch while the caller trains on
// the current one. Two slots: the caller holds one, the thread fills the
// other, then waits until the caller gives its slot back (on its next call).
// The thread runs the same ssm_batcher_produce as the synchronous path, at the
// same positions, so the batches are bitwise the same. Slot contents are
// handed over under the mutex (state changes), never shared while written.
#include "datasets/prefetch.h"

#include <string.h>

enum { SLOT_EMPTY = 0, SLOT_READY = 1, SLOT_HELD = 2 };

static void *worker(void *arg) {
    ssm_batcher *bt = arg;
    pthread_mutex_lock(&bt->mu);
    for (;;) {
        int s = bt->fill;
        while (!bt->stop && bt->slot[s].state != SLOT_EMPTY)
            pthread_cond_wait(&bt->cv, &bt->mu);
        if (bt->stop)
            break;
        pthread_mutex_unlock(&bt->mu);
        ssm_code rc = ssm_batcher_produce(bt, &bt->slot[s]);
        pthread_mutex_lock(&bt->mu);
        bt->slot[s].state = SLOT_READY;
        bt->fill ^= 1;
        pthread_cond_broadcast(&bt->cv);
        if (rc != SSM_OK)
            break; // the caller sees the error in this slot; nothing after it is made
    }
    pthread_mutex_unlock(&bt->mu);
    return NULL;
}

ssm_batch_slot *ssm_prefetch_next(ssm_batcher *bt, ssm_error *err) {
    if (!bt->running) {
        bt->stop = 0;
        int e = pthread_create(&bt->thread, NULL, worker, bt);
        if (e != 0) {
            ssm_fail(err, SSM_EIO, "cannot start the prefetch thread: %s", strerror(e));
            return NULL;
        }
        bt->running = 1;
    }
    pthread_mutex_lock(&bt->mu);
    if (bt->held >= 0) {
        bt->slot[bt->held].state = SLOT_EMPTY; // the caller is done with it
        bt->held = -1;
        pthread_cond_broadcast(&bt->cv);
    }
    int s = bt->take;
    while (bt->slot[s].state != SLOT_READY)
        pthread_cond_wait(&bt->cv, &bt->mu);
    bt->slot[s].state = SLOT_HELD;
    bt->held = s;
    bt->take ^= 1;
    pthread_mutex_unlock(&bt->mu);
    return &bt->slot[s];
}

void ssm_prefetch_stop(ssm_batcher *bt) {
    if (!bt->running)
        return;
    pthread_mutex_lock(&bt->mu);
    bt->stop = 1;
    pthread_cond_broadcast(&bt->cv);
    pthread_mutex_unlock(&bt->mu);
    pthread_join(bt->thread, NULL);
    bt->running = 0;
    bt->stop = 0;
}
