// defines: the synthetic multi-label sound-event set (see audio_manifest_synth.h)
#include "datasets/audio_manifest_synth.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "datasets/audio_augment.h"

const char *const SSM_SCENE_MIDS[SSM_SCENE_CLASSES] = {
    "/t/scene_hum",        "/t/scene_tone",  "/t/scene_whistle", "/t/scene_chirp_up",
    "/t/scene_chirp_down", "/t/scene_beeps", "/t/scene_noise",   "/t/scene_clicks"};
const char *const SSM_SCENE_NAMES[SSM_SCENE_CLASSES] = {
    "Hum",           "Tone",          "Whistle",     "Rising chirp",
    "Falling chirp", "Beeps, pulsed", "Noise burst", "Clicks"};

static const char *const SPLITS[3] = {"train", "val", "test"};

void ssm_scene_opts_default(ssm_scene_opts *o) {
    *o = (ssm_scene_opts){.n_train = 800, .n_val = 100, .n_test = 200, .seconds = 1,
                          .sample_rate = 16000, .max_sources = 3, .seed = 0};
}

// The draws of one clip: u(i) is uniform in [0, 1), a pure function of (key, i).
typedef struct {
    uint64_t key;
} draws;

static double u(const draws *d, uint64_t i) { return ssm_audio_key_unit(d->key, i); }
static double span(const draws *d, uint64_t i, double lo, double hi) {
    return lo + (hi - lo) * u(d, i);
}
static double noise(const draws *d, uint64_t i) { return 2 * u(d, i) - 1; }

// Draw streams (disjoint ranges per source slot and per kind of draw).
enum { D_COUNT = 0, D_CLASS = 1, D_SRC = 100, D_SRC_STRIDE = 100, D_BG = 1000,
       D_SAMPLES = 1u << 20 };

// Adds source class k (slot s of the clip) to wave [n].
static void add_source(float *wave, int64_t n, int rate, int k, const draws *d, int s) {
    uint64_t b = D_SRC + (uint64_t)s * D_SRC_STRIDE;
    int64_t start = (int64_t)(span(d, b, 0, 0.5) * (double)n);
    int64_t len = (int64_t)(span(d, b + 1, 0.3, 0.6) * (double)n);
    if (start + len > n)
        len = n - start;
    double amp = span(d, b + 2, 0.05, 0.25), fade = 0.01 * rate, phase = 0, sr = rate;
    double f0 = 0, f1 = 0, rate_hz = 0, gate = 0; // gate: beeps' on (and off) time, s
    switch (k) {
    case 0: f0 = span(d, b + 3, 100, 160); break;
    case 1: f0 = span(d, b + 3, 800, 1100); break;
    case 2: f0 = span(d, b + 3, 2800, 3600), rate_hz = span(d, b + 4, 5, 7); break;
    case 3: f0 = span(d, b + 3, 300, 500), f1 = span(d, b + 4, 2000, 2600); break;
    case 4: f0 = span(d, b + 4, 2000, 2600), f1 = span(d, b + 3, 300, 500); break;
    case 5: f0 = span(d, b + 3, 1400, 1700), gate = span(d, b + 4, 0.040, 0.070); break;
    case 7: rate_hz = span(d, b + 3, 15, 30); break;
    default: break;
    }
    // a distinct stream of per-sample noise for each slot
    draws nd = {ssm_seed_derive(d->key, D_SAMPLES + (uint64_t)s)};
    double click_env = 0;
    for (int64_t i = 0; i < len; i++) {
        double t = (double)i / sr, v = 0, frac = (double)i / (double)(len > 1 ? len - 1 : 1);
        switch (k) {
        case 0:
            for (int h = 1; h <= 8; h++)
                v += sin(2 * M_PI * h * f0 * t) / h;
            v *= 0.5;
            break;
        case 1: v = sin(2 * M_PI * f0 * t); break;
        case 2:
            phase += 2 * M_PI * f0 * (1 + 0.03 * sin(2 * M_PI * rate_hz * t)) / sr;
            v = sin(phase);
            break;
        case 3:
        case 4:
            phase += 2 * M_PI * (f0 + (f1 - f0) * frac) / sr;
            v = sin(phase);
            break;
        case 5: v = fmod(t, 2 * gate) < gate ? sin(2 * M_PI * f0 * t) : 0; break;
        case 6: v = noise(&nd, (uint64_t)i); break;
        case 7: {
            int64_t period = (int64_t)(sr / rate_hz);
            if (i % period == 0)
                click_env = 1;
            v = click_env * noise(&nd, (uint64_t)i);
            click_env *= exp(-1 / (0.004 * sr / 4)); // falls to e^-4 in 4 ms
            break;
        }
        default: break;
        }
        double g = fmin(1, fmin((double)i, (double)(len - 1 - i)) / fade);
        wave[start + i] += (float)(amp * g * v);
    }
}

static ssm_code write_wav(const char *path, const float *wave, int64_t n, int rate,
                          ssm_error *err) {
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, sf_strerror(NULL));
    sf_count_t w = sf_writef_float(f, wave, n);
    int rc = sf_close(f);
    if (w != n || rc != 0)
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    return SSM_OK;
}

// One clip: its wav file, and its classes in *mask (bit k = class k present).
static ssm_code make_clip(const char *path, const ssm_scene_opts *o, uint64_t key,
                          unsigned *mask, float *wave, int64_t n, ssm_error *err) {
    draws d = {key};
    draws bg = {ssm_seed_derive(key, D_BG)};
    double level = span(&d, D_BG, 0.003, 0.01);
    for (int64_t i = 0; i < n; i++)
        wave[i] = (float)(level * noise(&bg, (uint64_t)i));
    int count = 1 + (int)(u(&d, D_COUNT) * o->max_sources);
    if (count > o->max_sources)
        count = o->max_sources;
    int order[SSM_SCENE_CLASSES];
    for (int k = 0; k < SSM_SCENE_CLASSES; k++)
        order[k] = k;
    for (int k = SSM_SCENE_CLASSES - 1; k > 0; k--) { // Fisher-Yates: distinct classes
        int j = (int)(u(&d, D_CLASS + (uint64_t)k) * (k + 1)); // u < 1: j <= k
        int t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    *mask = 0;
    for (int s = 0; s < count; s++) {
        add_source(wave, n, o->sample_rate, order[s], &d, s);
        *mask |= 1u << order[s];
    }
    for (int64_t i = 0; i < n; i++) // 16-bit PCM: keep inside [-1, 1]
        wave[i] = wave[i] > 0.99f ? 0.99f : wave[i] < -0.99f ? -0.99f : wave[i];
    return write_wav(path, wave, n, o->sample_rate, err);
}

static ssm_code write_split(const char *dir, int sp, int64_t count, const ssm_scene_opts *o,
                            ssm_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.json", dir, SPLITS[sp]);
    FILE *js = fopen(path, "w");
    if (!js)
        return ssm_fail(err, SSM_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
    int64_t n = (int64_t)llround(o->seconds * o->sample_rate);
    float *wave = malloc((size_t)n * sizeof *wave);
    ssm_code rc = wave ? SSM_OK : ssm_fail(err, SSM_ENOMEM, "out of memory");
    fputs("{\"data\": [\n", js);
    for (int64_t i = 0; i < count && !rc; i++) {
        char rel[64], file[1300];
        snprintf(rel, sizeof rel, "audio/%s_%05lld.wav", SPLITS[sp], (long long)i);
        snprintf(file, sizeof file, "%s/%s", dir, rel);
        unsigned mask;
        uint64_t key = ssm_seed_derive(ssm_seed_derive(o->seed, 0x5ce7e + (uint64_t)sp),
                                       (uint64_t)i);
        rc = make_clip(file, o, key, &mask, wave, n, err);
        if (rc)
            break;
        fprintf(js, "  {\"wav\": \"%s\", \"labels\": \"", rel);
        for (int k = 0, first = 1; k < SSM_SCENE_CLASSES; k++)
            if (mask >> k & 1) {
                fprintf(js, "%s%s", first ? "" : ",", SSM_SCENE_MIDS[k]);
                first = 0;
            }
        fprintf(js, "\"}%s\n", i + 1 < count ? "," : "");
    }
    fputs("]}\n", js);
    free(wave);
    if (fclose(js) != 0 && !rc)
        rc = ssm_fail(err, SSM_EIO, "%s: write failed", path);
    return rc;
}

static ssm_code make_dir(const char *path, ssm_error *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return ssm_fail(err, SSM_EIO, "%s: cannot create folder: %s", path, strerror(errno));
    return SSM_OK;
}

ssm_code ssm_audio_scenes_write(const char *dir, const ssm_scene_opts *o, ssm_error *err) {
    if (o->n_train < 1 || o->n_val < 1 || o->n_test < 1)
        return ssm_fail(err, SSM_EINVAL, "synth scenes: %lld / %lld / %lld clips, expected >= 1 "
                        "per split", (long long)o->n_train, (long long)o->n_val,
                        (long long)o->n_test);
    if (!(o->seconds > 0 && o->seconds <= 600))
        return ssm_fail(err, SSM_EINVAL, "synth scenes: clips of %g s, expected (0, 600]",
                        o->seconds);
    if (o->sample_rate < 8000 || o->sample_rate > 48000)
        return ssm_fail(err, SSM_EINVAL, "synth scenes: sample rate %d, expected 8000..48000",
                        o->sample_rate);
    if (o->max_sources < 1 || o->max_sources > SSM_SCENE_CLASSES)
        return ssm_fail(err, SSM_EINVAL, "synth scenes: %d sources per clip, expected 1..%d",
                        o->max_sources, SSM_SCENE_CLASSES);
    char path[1200];
    SSM_TRY(make_dir(dir, err));
    snprintf(path, sizeof path, "%s/audio", dir);
    SSM_TRY(make_dir(path, err));
    snprintf(path, sizeof path, "%s/class_labels_indices.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
    fputs("index,mid,display_name\n", f);
    for (int k = 0; k < SSM_SCENE_CLASSES; k++)
        fprintf(f, "%d,%s,\"%s\"\n", k, SSM_SCENE_MIDS[k], SSM_SCENE_NAMES[k]);
    if (fclose(f) != 0)
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    const int64_t counts[3] = {o->n_train, o->n_val, o->n_test};
    for (int sp = 0; sp < 3; sp++)
        SSM_TRY(write_split(dir, sp, counts[sp], o, err));
    return SSM_OK;
}
