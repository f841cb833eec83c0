// defines: ssm_dropout_step, ssm_dropout_rows, SSM_DROP_KEY_STEP, SSM_DROP_SITE_ADAPTER,
//          ssm_drop_mix, ssm_drop_base, ssm_drop_hash, ssm_dropout_threshold,
//          ssm_dropout_scale, ssm_dropout_sample_of, dropout_apply
// Inverted dropout (Srivastava et al. 2014, PyTorch's nn.Dropout: the kept values scaled
// by 1 / (1 - p) in training, the identity at evaluation) whose mask is counter-based: the
// fate of an element is a pure function of (key, site, sample, element within the sample),
// never of a generator's state. So a step's masks do not depend on thread timing, on the
// prefetch, on where a run was resumed, or on which rank's slice of a global batch a
// sample sits in (DESIGN.md invariant 8), and the backward and the CUDA twin
// (kernels/cuda/dropout.h) recompute the forward's mask instead of storing it.
//
// The stream of sample s of a batch is the splitmix64 state key + s * SSM_DROP_KEY_STEP,
// key being the state of the batch's first sample: ssm_augment_stream(seed, epoch,
// position) (datasets/augment.h), the same convention as a packed batch's key
// (core/packing.h), so a sample's masks follow it into any batch, slice or rank. An element
// is dropped when the top 32 bits of
//   ssm_drop_hash(ssm_drop_base(key_s, site), e) = mix(mix(key_s ^ site * C) + e * STEP)
// (mix: splitmix64's finaliser; e: the element's index within its sample, row-major over the
// sample's rows) fall below round(p * 2^32): the dropped fraction is p to 2^-32, drawn
// independently for every site (a layer's FFN hidden values, its FFN output, ...).
#pragma once
#include <stdint.h>

#include "core/real.h"

#if defined(__CUDACC__)
#define SSM_DROP_HD __host__ __device__ __forceinline__
#else
#define SSM_DROP_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

// splitmix64's increment (= SSM_PACKING_KEY_STEP): the next sample's stream, the next element
#define SSM_DROP_KEY_STEP 0x9E3779B97F4A7C15ull
// The adapter's tokens (the embedding's output); the backbone's sites are numbered from 1
// (backbone/mamba_internal.h, mamba_drop_site).
#define SSM_DROP_SITE_ADAPTER 0u

// One step's dropout: train 0 (evaluation, prediction, and the zeroed default) turns every
// site into the identity; key as in the header.
typedef struct {
    int train;
    uint64_t key;
} ssm_dropout_step;

// Which sample a row of an activation belongs to, and where in it: either dense, every
// rows_per_sample consecutive rows one sample (the rows of its tokens, its sequences laid
// end to end), or packed, sample s being rows offsets[s] .. offsets[s+1] (core/packing.h;
// on the CUDA twin, device offsets).
typedef struct {
    uint64_t key;             // the stream of sample 0
    int64_t rows_per_sample;  // dense; 0 with offsets
    const int64_t *offsets;   // packed: [n + 1], or NULL
    int64_t n;                // packed: samples
} ssm_dropout_rows;

SSM_DROP_HD uint64_t ssm_drop_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The per-(sample, site) state the element hashes start from.
SSM_DROP_HD uint64_t ssm_drop_base(uint64_t sample_key, uint32_t site) {
    return ssm_drop_mix(sample_key ^ ((uint64_t)site * 0xD1B54A32D192ED03ull));
}

// 32 uniform bits for element e of the sample: dropped when below the threshold.
SSM_DROP_HD uint32_t ssm_drop_hash(uint64_t base, uint64_t e) {
    return (uint32_t)(ssm_drop_mix(base + e * SSM_DROP_KEY_STEP) >> 32);
}

// Sample of row r, and the row's index within it (packed: a binary search of the offsets).
SSM_DROP_HD int64_t ssm_dropout_sample_of(const ssm_dropout_rows *m, int64_t r, int64_t *within) {
    if (!m->offsets) {
        *within = r % m->rows_per_sample;
        return r / m->rows_per_sample;
    }
    int64_t lo = 0, hi = m->n - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (m->offsets[mid] <= r)
            lo = mid;
        else
            hi = mid - 1;
    }
    *within = r - m->offsets[lo];
    return lo;
}

// round(p * 2^32) for p in [0, 1): the elements whose hash is below it are dropped.
uint32_t ssm_dropout_threshold(double p);
// 1 / (1 - p) in real, the one value both devices multiply the kept elements by.
real ssm_dropout_scale(double p);

// out [rows, W] = in with the mask of site applied: element (r, w) -> 0 if dropped, else
// in * ssm_dropout_scale(p); row r of in is row row0 + r of the activation that m maps (a
// caller handing over a slice of it: one sample's rows, say). out may equal in. The same
// call is the forward (in = the site's input) and the backward (in = the gradient of the
// site's output, out = that of its input). p == 0 copies (nothing to do when out == in):
// bit for bit the site without dropout.
void dropout_apply(real *out, const real *in, int64_t row0, int64_t rows, int64_t W,
                   const ssm_dropout_rows *m, uint32_t site, double p);

#ifdef __cplusplus
}
#endif
