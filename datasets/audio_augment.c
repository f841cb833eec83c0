// defines: the audio augmentations and clip operations (see audio_augment.h)
#include "datasets/audio_augment.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"

double ssm_audio_key_unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

// A standard normal from draws i, i+1 (Box-Muller; u1 kept away from 0).
static double key_normal(uint64_t key, uint64_t i) {
    double u1 = ssm_audio_key_unit(key, i) + 0x1.0p-54, u2 = ssm_audio_key_unit(key, i + 1);
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

// Gamma(a, 1) for a >= 1 by Marsaglia and Tsang (2000): tries t use draws i + 3t .. i + 3t + 2.
// Acceptance is above 95% per try for a >= 1; after 64 tries (never seen) the mean is returned.
static double key_gamma(uint64_t key, uint64_t i, double a) {
    double boost = 1;
    if (a < 1) { // Gamma(a) = Gamma(a + 1) * U^(1/a)
        boost = pow(ssm_audio_key_unit(key, i + 1000) + 0x1.0p-54, 1 / a);
        a += 1;
    }
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (uint64_t t = 0; t < 64; t++) {
        double z = key_normal(key, i + 3 * t), v = 1 + c * z;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = ssm_audio_key_unit(key, i + 3 * t + 2);
        if (log(u + 0x1.0p-54) < 0.5 * z * z + d - d * v + d * log(v))
            return d * v * boost;
    }
    return a * boost;
}

double ssm_audio_beta(uint64_t key, uint64_t i, double a) {
    double x = key_gamma(key, i, a), y = key_gamma(key, i + 500, a);
    return x / (x + y);
}

// Draw streams of the key: fixed slots so that turning one augmentation on or off never
// changes another's draws.
enum { D_CROP = 0, D_SHIFT, D_GAIN, D_NOISE, D_NOISE_PICK, D_NOISE_OFF, D_SNR, D_MIX,
       D_MIX_PICK, D_MASKS = 16, D_BETA = 4096 };

ssm_audio_choice ssm_audio_aug_choose(const ssm_audio_aug *a, uint64_t key, int train) {
    ssm_audio_choice ch;
    memset(&ch, 0, sizeof ch);
    ch.gain = 1;
    ch.lambda = 1;
    if (!train)
        return ch;
    ch.crop = ssm_audio_key_unit(key, D_CROP);
    if (a->shift > 0)
        ch.shift = a->shift * (2 * ssm_audio_key_unit(key, D_SHIFT) - 1);
    if (a->gain_db > 0)
        ch.gain = pow(10, a->gain_db * (2 * ssm_audio_key_unit(key, D_GAIN) - 1) / 20);
    if (a->noise_p > 0 && ssm_audio_key_unit(key, D_NOISE) < a->noise_p) {
        ch.noise = 1;
        ch.noise_pick = ssm_audio_key_unit(key, D_NOISE_PICK);
        ch.noise_offset = ssm_audio_key_unit(key, D_NOISE_OFF);
        ch.snr_db = a->snr_min + (a->snr_max - a->snr_min) * ssm_audio_key_unit(key, D_SNR);
    }
    if (a->mixup_p > 0 && ssm_audio_key_unit(key, D_MIX) < a->mixup_p) {
        ch.mix = 1;
        ch.mix_pick = ssm_audio_key_unit(key, D_MIX_PICK);
        ch.lambda = ssm_audio_beta(key, D_BETA, a->mixup_alpha > 0 ? a->mixup_alpha : 10);
    }
    int n = a->n_masks < 0 ? 0 : a->n_masks > SSM_AUDIO_MAX_MASKS ? SSM_AUDIO_MAX_MASKS : a->n_masks;
    for (int m = 0; m < n; m++) {
        ch.fmask[m][0] = ssm_audio_key_unit(key, D_MASKS + 4 * m);
        ch.fmask[m][1] = ssm_audio_key_unit(key, D_MASKS + 4 * m + 1);
        ch.tmask[m][0] = ssm_audio_key_unit(key, D_MASKS + 4 * m + 2);
        ch.tmask[m][1] = ssm_audio_key_unit(key, D_MASKS + 4 * m + 3);
    }
    return ch;
}

void ssm_audio_shift(float *wave, int64_t n, int64_t shift, int roll, float *scratch) {
    if (n <= 0 || shift == 0)
        return;
    if (roll) {
        int64_t s = ((shift % n) + n) % n;
        for (int64_t i = 0; i < n; i++)
            scratch[(i + s) % n] = wave[i];
        memcpy(wave, scratch, (size_t)n * sizeof *wave);
        return;
    }
    if (shift >= n || -shift >= n) {
        memset(wave, 0, (size_t)n * sizeof *wave);
    } else if (shift > 0) {
        memmove(wave + shift, wave, (size_t)(n - shift) * sizeof *wave);
        memset(wave, 0, (size_t)shift * sizeof *wave);
    } else {
        memmove(wave, wave - shift, (size_t)(n + shift) * sizeof *wave);
        memset(wave + n + shift, 0, (size_t)(-shift) * sizeof *wave);
    }
}

void ssm_audio_gain(float *wave, int64_t n, double gain) {
    if (gain == 1)
        return;
    for (int64_t i = 0; i < n; i++)
        wave[i] = (float)(wave[i] * gain);
}

double ssm_audio_add_noise(float *wave, int64_t n, const float *noise, int64_t n_noise,
                           int64_t offset, double snr_db) {
    if (n <= 0 || n_noise <= 0)
        return 0;
    offset = ((offset % n_noise) + n_noise) % n_noise;
    double ps = 0, pn = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = noise[(offset + i) % n_noise];
        ps += (double)wave[i] * wave[i];
        pn += v * v;
    }
    ps /= (double)n;
    pn /= (double)n;
    if (pn <= 0)
        return 0;
    if (ps < 1e-10)
        ps = 0.05 * 0.05;
    double g = sqrt(ps / (pn * pow(10, snr_db / 10)));
    for (int64_t i = 0; i < n; i++)
        wave[i] = (float)(wave[i] + g * noise[(offset + i) % n_noise]);
    return g;
}

static double mean_of(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : 0;
}

void ssm_audio_mix(float *a, const float *b, int64_t n, double lambda) {
    double ma = mean_of(a, n), mb = mean_of(b, n), s = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = lambda * (a[i] - ma) + (1 - lambda) * (b[i] - mb);
        a[i] = (float)v;
        s += (float)v;
    }
    float m = (float)(n ? s / (double)n : 0);
    for (int64_t i = 0; i < n; i++)
        a[i] -= m;
}

int64_t ssm_specaug_mask(real *x, int64_t T, int64_t F, int axis, int64_t param, double u1,
                         double u2) {
    int64_t size = axis ? F : T;
    if (param <= 0 || size <= 0)
        return 0;
    double value = u1 * (double)param;
    if (value > (double)size)
        value = (double)size;
    int64_t start = (int64_t)floor(u2 * ((double)size - value)), width = (int64_t)floor(value);
    if (start + width > size)
        width = size - start;
    for (int64_t t = axis ? 0 : start; t < (axis ? T : start + width); t++)
        for (int64_t f = axis ? start : 0; f < (axis ? start + width : F); f++)
            x[t * F + f] = 0;
    return width;
}

void ssm_audio_fit_frames(real *out, const float *feats, int64_t frames, int64_t F,
                          int64_t target, int64_t offset, real pad) {
    if (offset < 0 || frames <= target)
        offset = 0;
    if (offset > frames - target && frames > target)
        offset = frames - target;
    int64_t have = frames - offset < target ? frames - offset : target;
    for (int64_t t = 0; t < have; t++)
        for (int64_t f = 0; f < F; f++)
            out[t * F + f] = (real)feats[(offset + t) * F + f];
    for (int64_t i = have * F; i < target * F; i++)
        out[i] = pad;
}
