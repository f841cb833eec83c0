// defines: ssm_rng, ssm_rng_init, ssm_rng_uniform, ssm_rng_normal, ssm_rng_below,
//          ssm_rng_shuffle, ssm_rng_state_size, ssm_rng_save, ssm_rng_load
// One seed drives every random choice (DESIGN.md invariant 8). A thin wrapper
// over GSL's mt19937 so that its state can be saved into checkpoints and
// restored for an exact resume.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"


typedef struct {
    void *g; // gsl_rng *, kept opaque so users need not include GSL
} ssm_rng;

ssm_code ssm_rng_init(ssm_rng *r, uint64_t seed, ssm_error *err);
void ssm_rng_free(ssm_rng *r);

double ssm_rng_uniform(ssm_rng *r);                      // [0, 1)
double ssm_rng_normal(ssm_rng *r, double sigma);         // N(0, sigma^2)
uint64_t ssm_rng_below(ssm_rng *r, uint64_t n);          // uniform in [0, n)
void ssm_rng_shuffle(ssm_rng *r, int64_t *a, size_t n);  // Fisher-Yates, in place

// The generator's whole state as bytes, for checkpoints.
size_t ssm_rng_state_size(const ssm_rng *r);
void ssm_rng_save(const ssm_rng *r, void *buf);
void ssm_rng_load(ssm_rng *r, const void *buf);

// A child seed derived from a parent seed and a stream id (splitmix64), so
// that e.g. each data worker or each parameter tensor gets its own stream.
uint64_t ssm_seed_derive(uint64_t seed, uint64_t stream);
