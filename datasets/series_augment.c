// defines: series_aug_choose, series_aug_apply, series_znorm, series_resample
//          (see series_augment.h)
#include "datasets/series_augment.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"

// Fixed streams of the key, one per draw.
enum { S_JITTER_ON = 1, S_SCALING_ON, S_SLICE_ON, S_WARP_ON, S_SLICE_AT, S_WARP_AT, S_WARP_UP,
       S_SCALE, S_NOISE };

static double unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

static double normal(uint64_t key, uint64_t i) { // Box-Muller from two draws of a stream
    double u = unit(key, 2 * i) + 0x1.0p-54, v = unit(key, 2 * i + 1);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

series_aug_choice series_aug_choose(const series_aug *a, uint64_t key) {
    series_aug_choice c = {.key = key, .warp_speed = 1};
    c.jitter = a->jitter > 0 && unit(key, S_JITTER_ON) < SERIES_AUG_P;
    c.scaling = a->scaling > 0 && unit(key, S_SCALING_ON) < SERIES_AUG_P;
    c.slice = a->window_slice > 0 && a->window_slice < 1 && unit(key, S_SLICE_ON) < SERIES_AUG_P;
    c.warp = a->window_warp > 0 && a->window_warp < 1 && unit(key, S_WARP_ON) < SERIES_AUG_P;
    c.slice_start = unit(key, S_SLICE_AT);
    c.warp_start = unit(key, S_WARP_AT);
    c.warp_speed = unit(key, S_WARP_UP) < 0.5 ? 0.5 : 2;
    return c;
}

void series_resample(real *out, int64_t m, const real *in, int64_t n, int64_t step) {
    for (int64_t t = 0; t < m; t++) {
        double pos = m > 1 ? (double)t * (double)(n - 1) / (double)(m - 1) : 0;
        int64_t i0 = (int64_t)pos;
        if (i0 > n - 1)
            i0 = n - 1;
        int64_t i1 = i0 + 1 < n ? i0 + 1 : i0;
        double w = pos - (double)i0;
        out[t * step] = (real)((1 - w) * in[i0 * step] + w * in[i1 * step]);
    }
}

// Start of a window of k values in n, at a fraction u of the free room.
static int64_t window_start(double u, int64_t n, int64_t k) {
    int64_t s = (int64_t)(u * (double)(n - k + 1));
    return s > n - k ? n - k : s;
}

static int64_t rounded(double v, int64_t lo) {
    int64_t k = (int64_t)llround(v);
    return k < lo ? lo : k;
}

void series_aug_apply(real *x, int64_t n, int64_t V, const series_aug *a,
                      const series_aug_choice *ch, real *work) {
    if (n >= 2 && (ch->slice || ch->warp)) {
        real *col = work, *tmp = work + n; // tmp holds up to 3n values (the warped series)
        int64_t ks = ch->slice ? rounded(a->window_slice * (double)n, 2) : n;
        ks = ks > n ? n : ks;
        int64_t s0 = window_start(ch->slice_start, n, ks);
        int64_t kw = ch->warp ? rounded(a->window_warp * (double)n, 1) : 0;
        kw = kw > n ? n : kw;
        int64_t w0 = window_start(ch->warp_start, n, kw);
        int64_t kw2 = ch->warp ? rounded((double)kw * ch->warp_speed, 1) : 0;
        for (int64_t v = 0; v < V; v++) {
            for (int64_t t = 0; t < n; t++)
                col[t] = x[t * V + v];
            if (ch->slice) { // the window, stretched to n
                series_resample(tmp, n, col + s0, ks, 1);
                memcpy(col, tmp, (size_t)n * sizeof *col);
            }
            if (ch->warp) { // head, the window at its new length, tail; then back to n
                int64_t m = 0;
                memcpy(tmp, col, (size_t)w0 * sizeof *tmp);
                m += w0;
                series_resample(tmp + m, kw2, col + w0, kw, 1);
                m += kw2;
                memcpy(tmp + m, col + w0 + kw, (size_t)(n - w0 - kw) * sizeof *tmp);
                m += n - w0 - kw;
                series_resample(col, n, tmp, m, 1);
            }
            for (int64_t t = 0; t < n; t++)
                x[t * V + v] = col[t];
        }
    }
    if (ch->scaling)
        for (int64_t v = 0; v < V; v++) {
            double f = 1 + a->scaling * normal(ssm_seed_derive(ch->key, S_SCALE), (uint64_t)v);
            for (int64_t t = 0; t < n; t++)
                x[t * V + v] = (real)(x[t * V + v] * f);
        }
    if (ch->jitter) {
        uint64_t k = ssm_seed_derive(ch->key, S_NOISE);
        for (int64_t i = 0; i < n * V; i++)
            x[i] = (real)(x[i] + a->jitter * normal(k, (uint64_t)i));
    }
}

void series_znorm(real *x, int64_t n, int64_t V) {
    for (int64_t v = 0; v < V; v++) {
        double mean = 0, m2 = 0;
        for (int64_t t = 0; t < n; t++)
            mean += x[t * V + v];
        mean /= (double)(n > 0 ? n : 1);
        for (int64_t t = 0; t < n; t++) {
            double d = x[t * V + v] - mean;
            m2 += d * d;
        }
        double sd = sqrt(m2 / (double)(n > 0 ? n : 1));
        // a constant channel (sd at rounding level of its mean) carries no shape: 0
        double inv = sd > 1e-8 * (1 + fabs(mean)) ? 1 / sd : 0;
        for (int64_t t = 0; t < n; t++)
            x[t * V + v] = (real)((x[t * V + v] - mean) * inv);
    }
}
