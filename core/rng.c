// defines: the GSL-backed RNG (see rng.h)
#include "core/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <string.h>

#define G(r) ((gsl_rng *)(r)->g)

ssm_code ssm_rng_init(ssm_rng *r, uint64_t seed, ssm_error *err) {
    r->g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r->g)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate RNG");
    // mt19937 takes an unsigned long seed; 0 is mapped by GSL to its default.
    gsl_rng_set(G(r), (unsigned long)ssm_seed_derive(seed, 0));
    return SSM_OK;
}

void ssm_rng_free(ssm_rng *r) {
    if (r->g)
        gsl_rng_free(G(r));
    r->g = NULL;
}

double ssm_rng_uniform(ssm_rng *r) { return gsl_rng_uniform(G(r)); }

double ssm_rng_normal(ssm_rng *r, double sigma) { return gsl_ran_gaussian_ziggurat(G(r), sigma); }

uint64_t ssm_rng_below(ssm_rng *r, uint64_t n) {
    if (n <= 1)
        return 0;
    if (n <= gsl_rng_max(G(r)))
        return gsl_rng_uniform_int(G(r), (unsigned long)n);
    return (uint64_t)(gsl_rng_uniform(G(r)) * (double)n);
}

void ssm_rng_shuffle(ssm_rng *r, int64_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ssm_rng_below(r, i);
        int64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

size_t ssm_rng_state_size(const ssm_rng *r) { return gsl_rng_size(G(r)); }

void ssm_rng_save(const ssm_rng *r, void *buf) {
    memcpy(buf, gsl_rng_state(G(r)), gsl_rng_size(G(r)));
}

void ssm_rng_load(ssm_rng *r, const void *buf) {
    memcpy(gsl_rng_state(G(r)), buf, gsl_rng_size(G(r)));
}

uint64_t ssm_seed_derive(uint64_t seed, uint64_t stream) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
