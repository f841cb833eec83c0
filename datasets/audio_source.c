// defines: the audio sample source, its noise bank and statistics (see audio_source.h)
#include "datasets/audio_source.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/audio_read.h"

// Draw stream of the evaluation silence clips (a function of the clip id alone).
#define SILENCE_STREAM 0x73696c656e6365ull // "silence"

ssm_code ssm_audio_noise_load(ssm_audio_noise *nb, char *const *paths, int64_t n, int rate,
                              ssm_error *err) {
    memset(nb, 0, sizeof *nb);
    if (n <= 0)
        return SSM_OK;
    nb->wave = calloc((size_t)n, sizeof *nb->wave);
    nb->len = calloc((size_t)n, sizeof *nb->len);
    if (!nb->wave || !nb->len)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the noise files");
    for (int64_t i = 0; i < n; i++) {
        ssm_audio a;
        SSM_TRY(ssm_audio_read(paths[i], rate, &a, err));
        nb->n = i + 1;
        nb->wave[i] = a.samples;
        nb->len[i] = a.n;
        if (a.n < rate)
            return ssm_fail(err, SSM_EDATA, "%s: a noise file of %" PRId64 " samples, expected at "
                            "least one second (%d)", paths[i], a.n, rate);
    }
    return SSM_OK;
}

void ssm_audio_noise_free(ssm_audio_noise *nb) {
    for (int64_t i = 0; i < nb->n; i++)
        free(nb->wave[i]);
    free(nb->wave);
    free(nb->len);
    memset(nb, 0, sizeof *nb);
}

static int64_t pick(double u, int64_t n) {
    int64_t i = (int64_t)(u * (double)n);
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

// One second of noise at a volume in [0, 0.1) of the file's: *wave malloc'd.
static ssm_code silence_wave(const ssm_audio_source_opts *o, int64_t id, uint64_t key,
                             float **wave, int64_t *n, ssm_error *err) {
    const ssm_audio_noise *nb = o->noise;
    if (!nb || nb->n == 0)
        return ssm_fail(err, SSM_EDATA, "clip %" PRId64 ": a _silence_ clip but no background "
                        "noise was loaded", id);
    uint64_t k = o->train ? ssm_seed_derive(key, SILENCE_STREAM) : ssm_seed_derive(SILENCE_STREAM, (uint64_t)id);
    int64_t f = pick(ssm_audio_key_unit(k, 0), nb->n), len = nb->len[f];
    *n = o->sample_rate;
    int64_t off = pick(ssm_audio_key_unit(k, 1), len - *n + 1);
    double vol = 0.1 * ssm_audio_key_unit(k, 2);
    *wave = malloc((size_t)*n * sizeof **wave);
    if (!*wave)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < *n; i++)
        (*wave)[i] = (float)(vol * nb->wave[f][off + i]);
    return SSM_OK;
}

static ssm_code read_clip(const ssm_audio_source_opts *o, int64_t id, uint64_t key, float **wave,
                          int64_t *n, ssm_error *err) {
    const ssm_audio_clip *c = &o->set->clips[id];
    if (!c->path)
        return silence_wave(o, id, key, wave, n, err);
    ssm_audio a;
    SSM_TRY(ssm_audio_read(c->path, o->sample_rate, &a, err));
    *wave = a.samples;
    *n = a.n;
    return SSM_OK;
}

// y_dense += w at the clip's classes (its one class, or all of a multi-label clip's).
static void add_labels(const ssm_audio_set *set, int64_t id, double w, real *y_dense) {
    if (!set->label_off) {
        y_dense[set->clips[id].label] += (real)w;
        return;
    }
    for (int64_t i = set->label_off[id]; i < set->label_off[id + 1]; i++)
        y_dense[set->label_idx[i]] += (real)w;
}

ssm_code ssm_audio_clip_features(const ssm_audio_source_opts *o, int64_t id, uint64_t key,
                                 real *x, int32_t *y, real *y_dense, ssm_error *err) {
    const ssm_audio_set *set = o->set;
    if (id < 0 || id >= set->n)
        return ssm_fail(err, SSM_EINVAL, "clip %" PRId64 " outside 0..%" PRId64, id, set->n - 1);
    ssm_audio_choice ch = ssm_audio_aug_choose(&o->aug, key, o->train);
    float *wave = NULL, *other = NULL, *feats = NULL;
    int64_t n = 0, m = 0;
    ssm_code rc = read_clip(o, id, key, &wave, &n, err);
    int64_t id2 = id;
    if (!rc && ch.mix && o->n_mix > 0) { // AST: the partner cut or zero-padded to this clip
        id2 = o->mix_ids[pick(ch.mix_pick, o->n_mix)];
        rc = read_clip(o, id2, ssm_seed_derive(key, 0x6d6978ull), &other, &m, err);
        if (!rc) {
            float *b = calloc((size_t)(n ? n : 1), sizeof *b);
            if (!b)
                rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
            else {
                memcpy(b, other, (size_t)(m < n ? m : n) * sizeof *b);
                ssm_audio_mix(wave, b, n, ch.lambda);
                free(b);
            }
        }
    } else {
        ch.lambda = 1;
    }
    if (!rc && ch.shift != 0) {
        float *scratch = malloc((size_t)(n ? n : 1) * sizeof *scratch);
        if (!scratch)
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        else
            ssm_audio_shift(wave, n, (int64_t)llround(ch.shift * (double)n), o->aug.roll, scratch);
        free(scratch);
    }
    if (!rc)
        ssm_audio_gain(wave, n, ch.gain);
    if (!rc && ch.noise && o->noise && o->noise->n > 0) {
        int64_t f = pick(ch.noise_pick, o->noise->n);
        ssm_audio_add_noise(wave, n, o->noise->wave[f], o->noise->len[f],
                            pick(ch.noise_offset, o->noise->len[f]), ch.snr_db);
    }
    // a clip shorter than one window: zero-padded to one frame (torchaudio refuses it)
    int64_t win = ssm_fbank_window_size(o->fb);
    if (!rc && n < win) {
        float *w2 = realloc(wave, (size_t)win * sizeof *w2);
        if (!w2)
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        else {
            memset(w2 + n, 0, (size_t)(win - n) * sizeof *w2);
            wave = w2;
            n = win;
        }
    }
    int64_t frames = 0, F = ssm_fbank_num_bins(o->fb), T = o->target_frames;
    if (!rc) {
        frames = ssm_fbank_num_frames(o->fb, n);
        feats = malloc((size_t)(frames * F) * sizeof *feats);
        if (!feats)
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory for %" PRId64 " frames", frames);
    }
    if (!rc && (rc = ssm_fbank_compute(o->fb, wave, n, feats, err)) != SSM_OK) {
        const char *p = set->clips[id].path;
        ssm_error_prefix(err, "%s: ", p ? p : "_silence_");
    }
    if (!rc) {
        int64_t off = frames > T ? pick(ch.crop, frames - T + 1) : 0;
        ssm_audio_fit_frames(x, feats, frames, F, T, off, 0);
        for (int mk = 0; mk < o->aug.n_masks && o->train && mk < SSM_AUDIO_MAX_MASKS; mk++) {
            ssm_specaug_mask(x, T, F, 1, o->aug.freq_mask, ch.fmask[mk][0], ch.fmask[mk][1]);
            ssm_specaug_mask(x, T, F, 0, o->aug.time_mask, ch.tmask[mk][0], ch.tmask[mk][1]);
        }
        if (o->normalize) {
            real mean = (real)o->mean, inv = (real)(1 / (2 * o->std));
            for (int64_t i = 0; i < T * F; i++)
                x[i] = (x[i] - mean) * inv;
        }
        if (y)
            *y = set->clips[id].label;
        if (y_dense) { // AST: lambda * labels + (1 - lambda) * the partner's labels
            memset(y_dense, 0, (size_t)set->num_classes * sizeof *y_dense);
            add_labels(set, id, ch.lambda, y_dense);
            add_labels(set, id2, 1 - ch.lambda, y_dense);
        }
    }
    free(wave);
    free(other);
    free(feats);
    return rc;
}

static ssm_code audio_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y,
                          real *y_dense, int64_t *length, ssm_error *err) {
    return ssm_audio_clip_features(ctx, id, key, x, y, y_dense, err);
}

ssm_code ssm_audio_source(ssm_sample_source *src, const ssm_audio_source_opts *o,
                          ssm_error *err) {
    memset(src, 0, sizeof *src);
    if (!o->set || !o->fb || o->target_frames < 1 || o->sample_rate < 1)
        return ssm_fail(err, SSM_EINVAL, "audio source: a set, a filterbank, target_frames >= 1 "
                        "and a sample rate are required");
    if (o->normalize && !(o->std > 0))
        return ssm_fail(err, SSM_EINVAL, "audio source: normalisation std = %g, expected > 0",
                        o->std);
    if (o->aug.n_masks < 0 || o->aug.n_masks > SSM_AUDIO_MAX_MASKS)
        return ssm_fail(err, SSM_EINVAL, "audio source: %d masks of each kind, expected 0..%d",
                        o->aug.n_masks, SSM_AUDIO_MAX_MASKS);
    ssm_audio_source_opts *s = malloc(sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate an audio source");
    *s = *o;
    src->ctx = s;
    src->n = o->set->n;
    src->x_ndim = 2;
    src->x_shape[0] = o->target_frames;
    src->x_shape[1] = ssm_fbank_num_bins(o->fb);
    src->has_y = 1;
    if (o->soft_labels || o->set->label_off) {
        src->dense_ndim = 1;
        src->dense_shape[0] = o->set->num_classes;
        src->dense_kind = o->set->label_off ? SSM_DENSE_MULTI_HOT : SSM_DENSE_PROBS;
    }
    src->get = audio_get;
    src->free = free;
    return SSM_OK;
}

ssm_code ssm_audio_stats(const ssm_audio_source_opts *o, const int64_t *ids, int64_t n,
                         int64_t max_clips, double *mean, double *std, ssm_error *err) {
    int64_t use = max_clips > 0 && max_clips < n ? max_clips : n;
    if (use <= 0)
        return ssm_fail(err, SSM_EINVAL, "audio statistics over no clips");
    ssm_audio_source_opts plain = *o;
    plain.train = 0;
    plain.normalize = 0;
    int64_t TF = o->target_frames * ssm_fbank_num_bins(o->fb);
    double *ms = malloc((size_t)use * 2 * sizeof *ms); // each clip's mean and std, summed in order
    if (!ms)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_code rc = SSM_OK;
    ssm_error first = {0};
#pragma omp parallel
    {
        real *x = malloc((size_t)TF * sizeof *x);
        ssm_error e = {0};
#pragma omp for schedule(dynamic, 8)
        for (int64_t k = 0; k < use; k++) {
            int64_t id = ids[(int64_t)((double)k * (double)n / (double)use)];
            ssm_code r = x ? ssm_audio_clip_features(&plain, id, 0, x, NULL, NULL, &e)
                           : ssm_fail(&e, SSM_ENOMEM, "out of memory");
            if (r) {
#pragma omp critical
                if (!rc) {
                    rc = r;
                    first = e;
                }
                continue;
            }
            double s = 0, s2 = 0;
            for (int64_t i = 0; i < TF; i++)
                s += x[i];
            double m = s / (double)TF;
            for (int64_t i = 0; i < TF; i++)
                s2 += (x[i] - m) * (x[i] - m);
            ms[2 * k] = m;
            ms[2 * k + 1] = sqrt(s2 / (double)(TF > 1 ? TF - 1 : 1));
        }
        free(x);
    }
    if (rc) {
        free(ms);
        *err = first;
        return rc;
    }
    double sm = 0, ss = 0;
    for (int64_t k = 0; k < use; k++) {
        sm += ms[2 * k];
        ss += ms[2 * k + 1];
    }
    free(ms);
    *mean = sm / (double)use;
    *std = ss / (double)use;
    return SSM_OK;
}
