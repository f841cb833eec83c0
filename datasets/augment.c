// defines: the image augmentations and image operations (see augment.h)
#include "datasets/augment.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"

// Stream ids keep the augmentation's keys apart from the shuffling's (batch.c).
#define AUGMENT_STREAM 0x61756721ull // "aug!"

uint64_t ssm_augment_key(uint64_t seed, int64_t epoch, int64_t sample) {
    uint64_t k = ssm_seed_derive(seed, AUGMENT_STREAM);
    k = ssm_seed_derive(k, (uint64_t)epoch);
    return ssm_seed_derive(k, (uint64_t)sample);
}

// ssm_seed_derive(k, s) is splitmix64's output after the state k + (s + 1) * gamma.
uint64_t ssm_augment_stream(uint64_t seed, int64_t epoch, int64_t sample) {
    uint64_t k = ssm_seed_derive(ssm_seed_derive(seed, AUGMENT_STREAM), (uint64_t)epoch);
    return k + 0x9E3779B97F4A7C15ull * (uint64_t)sample;
}

// A uniform double in [0, 1) from 53 bits of draw `i` of the key.
static double unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

// torchvision's RandomErasing: up to 10 tries of an area fraction in
// [0.02, 0.4] and a log-uniform aspect in [0.3, 3.3] until the rectangle fits.
static void choose_erase(ssm_augment_choice *ch, const ssm_augment *a, uint64_t key, int64_t H,
                         int64_t W) {
    if (a->erase_p <= 0 || unit(key, 3) >= a->erase_p)
        return;
    const double area = (double)(H * W), lo = log(0.3), hi = log(3.3);
    for (uint64_t t = 0; t < 10; t++) {
        double target = area * (0.02 + 0.38 * unit(key, 4 + 4 * t));
        double aspect = exp(lo + (hi - lo) * unit(key, 5 + 4 * t));
        int64_t h = (int64_t)llround(sqrt(target * aspect));
        int64_t w = (int64_t)llround(sqrt(target / aspect));
        if (h < 1 || w < 1 || h >= H || w >= W)
            continue;
        ch->eh = h;
        ch->ew = w;
        ch->ey = (int64_t)(ssm_seed_derive(key, 6 + 4 * t) % (uint64_t)(H - h + 1));
        ch->ex = (int64_t)(ssm_seed_derive(key, 7 + 4 * t) % (uint64_t)(W - w + 1));
        return;
    }
}

ssm_augment_choice ssm_augment_choose(const ssm_augment *a, uint64_t key, int64_t H, int64_t W) {
    // Each choice draws its own 64-bit value from the key; modulo bias over
    // 2*pad+1 (a handful of values) is below 1e-17, far under anything visible.
    ssm_augment_choice ch = {0, 0, 0, 0, 0, 0, 0};
    if (a->pad > 0) {
        uint64_t span = (uint64_t)(2 * a->pad + 1);
        ch.dy = (int64_t)(ssm_seed_derive(key, 0) % span);
        ch.dx = (int64_t)(ssm_seed_derive(key, 1) % span);
    }
    if (a->hflip)
        ch.flip = (int)(ssm_seed_derive(key, 2) >> 63);
    choose_erase(&ch, a, key, H, W);
    return ch;
}

void ssm_image_crop_pad(real *out, const real *in, int64_t C, int64_t H, int64_t W, int64_t pad,
                        int64_t dy, int64_t dx) {
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H; y++) {
            int64_t sy = y + dy - pad;
            real *o = out + (c * H + y) * W;
            if (sy < 0 || sy >= H) {
                memset(o, 0, (size_t)W * sizeof *o);
                continue;
            }
            const real *row = in + (c * H + sy) * W;
            for (int64_t x = 0; x < W; x++) {
                int64_t sx = x + dx - pad;
                o[x] = sx < 0 || sx >= W ? (real)0 : row[sx];
            }
        }
}

void ssm_image_hflip(real *out, const real *in, int64_t C, int64_t H, int64_t W) {
    for (int64_t r = 0; r < C * H; r++) {
        const real *src = in + r * W;
        real *dst = out + r * W;
        // swap pairs so that out == in works
        for (int64_t x = 0; x < (W + 1) / 2; x++) {
            real a = src[x], b = src[W - 1 - x];
            dst[x] = b;
            dst[W - 1 - x] = a;
        }
    }
}

void ssm_image_normalize(real *x, const real *mean, const real *std, int64_t C, int64_t HW) {
    for (int64_t c = 0; c < C; c++) {
        real m = mean[c], inv = (real)1 / std[c];
        real *p = x + c * HW;
        for (int64_t i = 0; i < HW; i++)
            p[i] = (p[i] - m) * inv;
    }
}

void ssm_augment_apply(real *out, const uint8_t *in, const ssm_augment *a,
                       ssm_augment_choice ch, int64_t C, int64_t H, int64_t W) {
    int64_t HW = H * W;
    if (a->pad > 0) {
        // crop reads the source at shifted positions; do it straight from bytes
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H; y++) {
                int64_t sy = y + ch.dy - a->pad;
                real *o = out + c * HW + y * W;
                for (int64_t x = 0; x < W; x++) {
                    int64_t sx = x + ch.dx - a->pad;
                    o[x] = sy < 0 || sy >= H || sx < 0 || sx >= W
                               ? (real)0
                               : (real)in[c * HW + sy * W + sx] / (real)255;
                }
            }
    } else {
        for (int64_t i = 0; i < C * HW; i++)
            out[i] = (real)in[i] / (real)255;
    }
    if (ch.flip)
        ssm_image_hflip(out, out, C, H, W);
    if (a->normalize)
        ssm_image_normalize(out, a->mean, a->std, C, HW);
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = ch.ey; y < ch.ey + ch.eh; y++)
            memset(out + c * HW + y * W + ch.ex, 0, (size_t)ch.ew * sizeof *out);
}

// Source coordinate of output pixel i under half-pixel centres.
static double src_coord(int64_t i, int64_t n_in, int64_t n_out) {
    return ((double)i + 0.5) * (double)n_in / (double)n_out - 0.5;
}

void ssm_image_resize(real *out, const real *in, int64_t C, int64_t Hi, int64_t Wi, int64_t Ho,
                      int64_t Wo, ssm_resize_mode mode) {
    if (Hi == Ho && Wi == Wo) {
        memcpy(out, in, (size_t)(C * Hi * Wi) * sizeof *out);
        return;
    }
    for (int64_t c = 0; c < C; c++) {
        const real *src = in + c * Hi * Wi;
        real *dst = out + c * Ho * Wo;
        for (int64_t y = 0; y < Ho; y++) {
            double fy = src_coord(y, Hi, Ho);
            for (int64_t x = 0; x < Wo; x++) {
                double fx = src_coord(x, Wi, Wo);
                if (mode == SSM_RESIZE_NEAREST) {
                    // nearest source pixel centre: floor((i + 0.5) * in / out)
                    int64_t sy = (int64_t)floor(fy + 0.5), sx = (int64_t)floor(fx + 0.5);
                    sy = sy < 0 ? 0 : sy >= Hi ? Hi - 1 : sy;
                    sx = sx < 0 ? 0 : sx >= Wi ? Wi - 1 : sx;
                    dst[y * Wo + x] = src[sy * Wi + sx];
                    continue;
                }
                double cy = fy < 0 ? 0 : fy > (double)(Hi - 1) ? (double)(Hi - 1) : fy;
                double cx = fx < 0 ? 0 : fx > (double)(Wi - 1) ? (double)(Wi - 1) : fx;
                int64_t y0 = (int64_t)cy, x0 = (int64_t)cx;
                int64_t y1 = y0 + 1 < Hi ? y0 + 1 : y0, x1 = x0 + 1 < Wi ? x0 + 1 : x0;
                double wy = cy - (double)y0, wx = cx - (double)x0;
                double top = (1 - wx) * src[y0 * Wi + x0] + wx * src[y0 * Wi + x1];
                double bot = (1 - wx) * src[y1 * Wi + x0] + wx * src[y1 * Wi + x1];
                dst[y * Wo + x] = (real)((1 - wy) * top + wy * bot);
            }
        }
    }
}
