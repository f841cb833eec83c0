// defines: ssm_epoch_order, ssm_weighted_order (declared in batch.h)
// The order an epoch visits its samples in: a shuffle, or draws by weight, each a pure
// function of (seed, epoch) so a resumed or sharded run sees the same order.
#include <math.h>

#include "core/rng.h"
#include "datasets/batch.h"

// Keeps the shuffling's random stream apart from the augmentation's.
#define SHUFFLE_STREAM 0x73687566ull // "shuf"
#define WEIGHT_STREAM 0x77656967ull  // "weig": weighted draws, apart from the shuffles

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

ssm_code ssm_weighted_order(int64_t *order, const double *cum, int64_t n, uint64_t seed,
                            int64_t epoch, ssm_error *err) {
    ssm_rng r;
    SSM_TRY(ssm_rng_init(&r, ssm_seed_derive(ssm_seed_derive(seed, WEIGHT_STREAM),
                                             (uint64_t)epoch), err));
    double total = cum[n - 1];
    for (int64_t i = 0; i < n; i++) {
        double u = ssm_rng_uniform(&r) * total;
        if (u >= total) // u * total can round up to total
            u = nextafter(total, 0);
        // the first position whose running sum exceeds u: a zero weight is never drawn
        int64_t lo = 0, hi = n - 1;
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        order[i] = lo;
    }
    ssm_rng_free(&r);
    return SSM_OK;
}
