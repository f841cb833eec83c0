// defines: predict_reader_audio (the predict reader of the audio recipes)
// Audio files (anything libsndfile decodes: WAV, FLAC, Ogg; datasets/audio_read.h),
// averaged to mono and resampled to data_sample_rate, then the Kaldi log-mel features the
// config's data.fbank.* describe (datasets/fbank.h), as the evaluation batches are made
// (datasets/audio_source.h with no augmentation): a clip shorter than one FFT window is
// zero-padded to one, the features are zero-padded to data_frames frames (the trained
// length) and standardised, (x - data_mean.0) / (2 data_std.0), when data_normalize says
// the model was trained so.
//
// Any length in one pass: a clip longer than the trained data_frames is NOT cropped (as
// `eval` crops it to its start): the model is planned for the clip's own number of frames,
// and the learned time positions of the trained grid are resized to the clip's grid by
// linear interpolation (adapters/patch_embed.h, AST's rule; docs/predict.md). A clip of
// the trained length or shorter gives exactly what `eval` gives.
//
// --window S --hop H (sound event detection in a long recording): windows of S seconds
// every H seconds (H defaults to S) from the start, and when the last one stops short of
// the end, one more window ending at the end, so every sample is covered; a recording
// shorter than S is one window. Each window is a clip of its own (its own DC removal),
// batched PREDICT_CHUNK at a time; the output rows carry the window's start and end.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/predict.h"
#include "datasets/audio_augment.h"
#include "datasets/audio_data.h"
#include "datasets/audio_read.h"
#include "datasets/fbank.h"

typedef struct {
    ssm_fbank *fb;
    int64_t T, F;        // trained frames, mel bins
    int sample_rate;
    int normalize;
    double mean, std;
    int64_t next;        // next input file
    ssm_audio wave;      // the recording being windowed (samples NULL: none)
    const char *path;
    int64_t *starts;     // [n_win] window starts in samples
    int64_t n_win, win_len, cur;
    float *scratch;      // [window] a padded window
    float *feats;        // [frames, F]
    int64_t scratch_cap, feats_cap;
} audio_state;

static int au_matches(const ssm_data_config *dc) { return audio_data_is_audio(dc); }

static void au_close(void *state) {
    audio_state *s = state;
    ssm_fbank_free(s->fb);
    ssm_audio_free(&s->wave);
    free(s->starts);
    free(s->scratch);
    free(s->feats);
    free(s);
}

static ssm_code au_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    audio_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
    int64_t rate;
    SSM_TRY(predict_meta_int(c, "data_frames", &s->T, err));
    SSM_TRY(predict_meta_int(c, "data_mel", &s->F, err));
    SSM_TRY(predict_meta_int(c, "data_sample_rate", &rate, err));
    if (s->T < 1 || s->F < 1 || rate < 1 || rate > 1000000)
        return ssm_fail(err, SSM_EFORMAT, "%s: clips of %lld frames x %lld mel bins at %lld Hz, "
                        "expected positive sizes and a rate up to 1 MHz", c->ckpt,
                        (long long)s->T, (long long)s->F, (long long)rate);
    s->sample_rate = (int)rate;
    SSM_TRY(predict_normalize(c, &s->normalize, err));
    if (s->normalize) {
        SSM_TRY(predict_meta_double(c, "data_mean.0", &s->mean, err));
        SSM_TRY(predict_meta_double(c, "data_std.0", &s->std, err));
        if (!(s->std > 0))
            return ssm_fail(err, SSM_EFORMAT, "%s: metadata data_std.0 = %g, expected > 0",
                            c->ckpt, s->std);
    }
    ssm_fbank_opts o;
    audio_data_fbank_opts(&o, &c->cfg->data);
    o.sample_rate = (double)s->sample_rate;
    SSM_TRY(ssm_fbank_create(&s->fb, &o, err));
    if (ssm_fbank_num_bins(s->fb) != s->F)
        return ssm_fail(err, SSM_ECONFIG, "data.fbank.num_mel_bins is %d but the checkpoint's "
                        "model takes %lld mel bins (data_mel)", ssm_fbank_num_bins(s->fb),
                        (long long)s->F);
    if (c->opt->window > 0 && (c->opt->hop < 0 || llround(c->opt->window * rate) < 1))
        return ssm_fail(err, SSM_EINVAL, "--window %g --hop %g: expected a window of at least "
                        "one sample and a hop >= 0", c->opt->window, c->opt->hop);
    plan->trained = (ssm_input_shape){2, {s->T, s->F}};
    return SSM_OK;
}

static ssm_code grow(void **p, int64_t *cap, int64_t need, size_t elem, ssm_error *err) {
    if (need <= *cap)
        return SSM_OK;
    void *q = realloc(*p, (size_t)need * elem);
    if (!q)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld audio values", (long long)need);
    *p = q;
    *cap = need;
    return SSM_OK;
}

// Frames of the model input for a clip of n samples: its own, at least the trained T.
static int64_t clip_frames(const audio_state *s, int64_t n) {
    int64_t win = ssm_fbank_window_size(s->fb);
    int64_t frames = ssm_fbank_num_frames(s->fb, n < win ? win : n);
    return frames > s->T ? frames : s->T;
}

// x [T, F] (T = clip_frames(n)) from the samples wave [n], as the evaluation makes a clip.
static ssm_code clip_features(audio_state *s, const float *wave, int64_t n, const char *path,
                              real *x, ssm_error *err) {
    int64_t win = ssm_fbank_window_size(s->fb);
    if (n < win) { // shorter than one window: zero-padded to one (as audio_source.c)
        SSM_TRY(grow((void **)&s->scratch, &s->scratch_cap, win, sizeof(float), err));
        memcpy(s->scratch, wave, (size_t)n * sizeof(float));
        memset(s->scratch + n, 0, (size_t)(win - n) * sizeof(float));
        wave = s->scratch;
        n = win;
    }
    int64_t frames = ssm_fbank_num_frames(s->fb, n), T = clip_frames(s, n);
    SSM_TRY(grow((void **)&s->feats, &s->feats_cap, frames * s->F, sizeof(float), err));
    if (ssm_fbank_compute(s->fb, wave, n, s->feats, err))
        return ssm_error_prefix(err, "%s: ", path);
    ssm_audio_fit_frames(x, s->feats, frames, s->F, T, 0, 0);
    if (s->normalize) { // the same arithmetic as the evaluation's source
        real mean = (real)s->mean, inv = (real)(1 / (2 * s->std));
        for (int64_t i = 0; i < T * s->F; i++)
            x[i] = (x[i] - mean) * inv;
    }
    return SSM_OK;
}

// The window starts of a recording of n samples (see the header).
static ssm_code plan_windows(audio_state *s, const predict_opts *o, ssm_error *err) {
    int64_t n = s->wave.n, win = llround(o->window * s->sample_rate);
    int64_t hop = o->hop > 0 ? llround(o->hop * s->sample_rate) : win;
    if (hop < 1)
        hop = 1;
    s->win_len = n < win ? n : win;
    int64_t count = n <= win ? 1 : (n - win) / hop + 1;
    int tail = n > win && (count - 1) * hop + win < n;
    free(s->starts);
    s->starts = malloc((size_t)(count + tail) * sizeof *s->starts);
    if (!s->starts)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld windows", (long long)count);
    for (int64_t k = 0; k < count; k++)
        s->starts[k] = k * hop;
    if (tail)
        s->starts[count] = n - win;
    s->n_win = count + tail;
    s->cur = 0;
    return SSM_OK;
}

static ssm_code au_next(predict_ctx *c, void *state, predict_group *g, ssm_error *err) {
    audio_state *s = state;
    const double sr = (double)s->sample_rate;
    if (c->opt->window > 0 && s->wave.samples && s->cur == s->n_win)
        ssm_audio_free(&s->wave); // this recording is done
    if (!s->wave.samples) {
        if (s->next == c->n_inputs)
            return SSM_OK;
        s->path = c->inputs[s->next++];
        SSM_TRY(ssm_audio_read(s->path, s->sample_rate, &s->wave, err));
        if (c->opt->window > 0)
            SSM_TRY(plan_windows(s, c->opt, err));
    }
    g->shape.ndim = 2;
    g->shape.dims[1] = s->F;
    if (c->opt->window <= 0) { // the whole clip, one sample
        int64_t T = clip_frames(s, s->wave.n);
        SSM_TRY(predict_group_alloc(g, 1, T * s->F, err));
        SSM_TRY(clip_features(s, s->wave.samples, s->wave.n, s->path, g->x, err));
        g->shape.dims[0] = T;
        g->items[0] = (predict_item){.input = s->path, .start = -1};
        g->n = 1;
        ssm_audio_free(&s->wave);
        return SSM_OK;
    }
    int64_t n = s->n_win - s->cur < PREDICT_CHUNK ? s->n_win - s->cur : PREDICT_CHUNK;
    int64_t T = clip_frames(s, s->win_len), size = T * s->F;
    SSM_TRY(predict_group_alloc(g, n, n * size, err));
    for (int64_t i = 0; i < n; i++) {
        int64_t a = s->starts[s->cur + i];
        SSM_TRY(clip_features(s, s->wave.samples + a, s->win_len, s->path, g->x + i * size, err));
        g->items[i] = (predict_item){.input = s->path, .start = (double)a / sr,
                                     .end = (double)(a + s->win_len) / sr};
    }
    g->shape.dims[0] = T;
    s->cur += n;
    g->n = n;
    return SSM_OK;
}

const predict_reader predict_reader_audio = {
    .name = "audio",
    .inputs = "audio files: WAV, FLAC, Ogg/Vorbis",
    .matches = au_matches,
    .open = au_open,
    .next = au_next,
    .close = au_close,
};
