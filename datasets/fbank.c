// defines: ssm_fbank_opts_default, ssm_fbank_create, ssm_fbank_free, ssm_fbank_num_frames,
//          ssm_fbank_num_bins, ssm_fbank_window_size, ssm_fbank_fft_size, ssm_fbank_compute,
//          ssm_fbank_window_name, ssm_fbank_window_parse (see fbank.h)
// The steps are torchaudio/compliance/kaldi.py's, in double precision: in
// float32 (torch's usual dtype) the quiet bins of a frame, 60 dB and more
// below its loudest, carry FFT and rounding noise of up to 1e-2 in log units
// (tests/fixtures/fbank/index.txt lists torch's own float32-vs-float64
// spread per clip), which no second float32 implementation reproduces. In
// double, with the mel weights in float32 as torch makes them, the result is
// within 3.1e-4 of torchaudio at float64 (what is left is torch's vectorised
// log, 1 ulp off glibc's for some FFT-bin frequencies), and within 1e-3 of
// its float32 output wherever that is itself within 1e-3 of exact. Samples
// come in and features go out as float.
#include "datasets/fbank.h"

#include <float.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ssm_fbank {
    ssm_fbank_opts o;
    int win, shift, nfft, nbins;
    double *window; // [win]
    // mel filter b covers FFT bins [first[b], first[b] + count[b]) with
    // weights w[off[b] ...]: a triangle touches few bins, so this is ~2 MACs
    // per FFT bin instead of nbins.
    int *first, *count, *off;
    double *w;
    // FFTW's real-to-complex plan, made with FFTW_ESTIMATE (no timing runs,
    // so the same plan and the same bits every run). FFTW over GSL: 2.6x
    // faster per 512-point transform than GSL's mixed-radix, 5x its radix-2
    // (docs/benchmarks.md, "Audio front end"). fftw_execute_dft_r2c on
    // per-call arrays from fftw_malloc (the alignment the plan was made for)
    // is thread-safe; making and destroying plans is not: fftw_lock.
    fftw_plan plan;
};

static pthread_mutex_t fftw_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const WINDOW_NAMES[] = {"hanning", "povey", "hamming", "rectangular", "blackman"};
#define N_WINDOWS ((int)(sizeof WINDOW_NAMES / sizeof *WINDOW_NAMES))

const char *ssm_fbank_window_name(ssm_fbank_window w) {
    return (int)w >= 0 && (int)w < N_WINDOWS ? WINDOW_NAMES[w] : "?";
}

ssm_code ssm_fbank_window_parse(const char *name, ssm_fbank_window *w, ssm_error *err) {
    for (int i = 0; i < N_WINDOWS; i++)
        if (strcasecmp(name, WINDOW_NAMES[i]) == 0) {
            *w = (ssm_fbank_window)i;
            return SSM_OK;
        }
    return ssm_fail(err, SSM_ECONFIG, "window '%s': expected one of hanning, povey, hamming,"
                    " rectangular, blackman", name);
}

void ssm_fbank_opts_default(ssm_fbank_opts *o) {
    memset(o, 0, sizeof *o);
    o->sample_rate = 16000.0;
    o->frame_length_ms = 25.0;
    o->frame_shift_ms = 10.0;
    o->round_to_power_of_two = 1;
    o->remove_dc_clip = 1;
    o->remove_dc_offset = 1;
    o->preemphasis = 0.97;
    o->window = SSM_FBANK_HANNING;
    o->blackman_coeff = 0.42;
    o->num_mel_bins = 128;
    o->low_freq = 20.0;
    o->high_freq = 0.0;
    o->use_power = 1;
    o->use_log = 1;
    o->log_floor = FLT_EPSILON;
    o->snip_edges = 1;
    o->subtract_mean = 0;
}

static double mel_scale(double f) { return 1127.0 * log(1.0 + f / 700.0); }

static void make_window(double *w, int n, ssm_fbank_window type, double blackman_coeff) {
    // torch.hann_window(n, periodic=False) etc.; n >= 2 is checked.
    const double a = 2.0 * M_PI / (n - 1);
    for (int i = 0; i < n; i++) {
        double hann = 0.5 - 0.5 * cos(a * i);
        double v = 1.0;
        switch (type) {
        case SSM_FBANK_HANNING: v = hann; break;
        case SSM_FBANK_POVEY: v = pow(hann, 0.85); break;
        case SSM_FBANK_HAMMING: v = 0.54 - 0.46 * cos(a * i); break;
        case SSM_FBANK_RECTANGULAR: v = 1.0; break;
        case SSM_FBANK_BLACKMAN:
            v = blackman_coeff - 0.5 * cos(a * i) + (0.5 - blackman_coeff) * cos(2.0 * a * i);
            break;
        }
        w[i] = v;
    }
}

// kaldi.py get_mel_banks with vtln_warp = 1: triangles on the mel scale,
// num_bins + 2 equally spaced edges from mel(low) to mel(high), evaluated at
// the mel of each FFT bin's frequency k * sr / nfft, k < nfft / 2. In float32
// operation by operation as torch (and Kaldi's BaseFloat) computes them: the
// narrow low bins hold one or two FFT bins with small weights, where a
// double-precision weight differs from torch's by 1e-4 in log units.
static ssm_code make_mel(ssm_fbank *fb, double low, double high, ssm_error *err) {
    const int nb = fb->nbins, nk = fb->nfft / 2;
    const float bin_hz = (float)(fb->o.sample_rate / fb->nfft);
    const double mlo_d = mel_scale(low), mhi_d = mel_scale(high); // Python floats
    const float mlo = (float)mlo_d, delta = (float)((mhi_d - mlo_d) / (nb + 1));
    fb->first = calloc((size_t)nb, sizeof *fb->first);
    fb->count = calloc((size_t)nb, sizeof *fb->count);
    fb->off = calloc((size_t)nb, sizeof *fb->off);
    float *mel = malloc((size_t)nk * sizeof *mel);
    if (!fb->first || !fb->count || !fb->off || !mel) {
        free(mel);
        return ssm_fail(err, SSM_ENOMEM, "fbank: cannot allocate %d mel filters", nb);
    }
    for (int k = 0; k < nk; k++)
        mel[k] = 1127.0f * logf(1.0f + bin_hz * (float)k / 700.0f);
    // two passes: count the nonzero weights, then fill them
    int total = 0;
    for (int pass = 0; pass < 2; pass++) {
        total = 0;
        for (int b = 0; b < nb; b++) {
            float left = mlo + (float)b * delta, center = mlo + ((float)b + 1.0f) * delta,
                  right = mlo + ((float)b + 2.0f) * delta;
            int first = -1, count = 0;
            for (int k = 0; k < nk; k++) {
                float up = (mel[k] - left) / (center - left);
                float down = (right - mel[k]) / (right - center);
                float v = fmaxf(0.0f, fminf(up, down));
                if (v <= 0.0)
                    continue;
                if (first < 0)
                    first = k;
                // a triangle is convex: its nonzero weights are contiguous
                if (pass == 1)
                    fb->w[total + (k - first)] = v;
                count = k - first + 1;
            }
            if (pass == 0) {
                fb->first[b] = first < 0 ? 0 : first;
                fb->count[b] = count;
                fb->off[b] = total;
            }
            total += count;
        }
        if (pass == 0) {
            fb->w = calloc((size_t)(total > 0 ? total : 1), sizeof *fb->w);
            if (!fb->w) {
                free(mel);
                return ssm_fail(err, SSM_ENOMEM, "fbank: cannot allocate %d mel weights", total);
            }
        }
    }
    free(mel);
    return SSM_OK;
}

ssm_code ssm_fbank_create(ssm_fbank **out, const ssm_fbank_opts *o, ssm_error *err) {
    *out = NULL;
    if (!(o->sample_rate > 0))
        return ssm_fail(err, SSM_ECONFIG, "fbank: sample_rate %g: expected > 0", o->sample_rate);
    // int(sample_frequency * frame_length * 0.001), in that order, as torchaudio
    double wl = o->sample_rate * o->frame_length_ms * 0.001;
    double ws = o->sample_rate * o->frame_shift_ms * 0.001;
    if (!(wl >= 2 && wl < (1 << 24)))
        return ssm_fail(err, SSM_ECONFIG, "fbank: frame_length_ms %g at %g Hz is %g samples;"
                        " expected at least 2", o->frame_length_ms, o->sample_rate, wl);
    if (!(ws >= 1 && ws < (1 << 24)))
        return ssm_fail(err, SSM_ECONFIG, "fbank: frame_shift_ms %g at %g Hz is %g samples;"
                        " expected at least 1", o->frame_shift_ms, o->sample_rate, ws);
    int win = (int)wl, shift = (int)ws, nfft = win;
    if (o->round_to_power_of_two)
        for (nfft = 1; nfft < win; nfft *= 2) {
        }
    if (nfft % 2)
        return ssm_fail(err, SSM_ECONFIG, "fbank: window of %d samples with round_to_power_of_two"
                        " off: expected an even size (change frame_length_ms or round)", win);
    if (!(o->preemphasis >= 0 && o->preemphasis <= 1))
        return ssm_fail(err, SSM_ECONFIG, "fbank: preemphasis %g: expected in [0, 1]", o->preemphasis);
    if ((int)o->window < 0 || (int)o->window >= N_WINDOWS)
        return ssm_fail(err, SSM_ECONFIG, "fbank: window %d: expected one of hanning, povey,"
                        " hamming, rectangular, blackman", (int)o->window);
    if (o->num_mel_bins <= 3 || o->num_mel_bins > 65536)
        return ssm_fail(err, SSM_ECONFIG, "fbank: num_mel_bins %d: expected 4 .. 65536",
                        o->num_mel_bins);
    double nyq = 0.5 * o->sample_rate, low = o->low_freq, high = o->high_freq;
    if (high <= 0)
        high += nyq;
    if (!(low >= 0 && low < nyq && high > 0 && high <= nyq && low < high))
        return ssm_fail(err, SSM_ECONFIG, "fbank: low_freq %g, high_freq %g (%g Hz): expected"
                        " 0 <= low_freq < high_freq <= Nyquist (%g Hz; high_freq <= 0 counts"
                        " down from it)", o->low_freq, o->high_freq, high, nyq);
    if (o->use_log && !(o->log_floor > 0))
        return ssm_fail(err, SSM_ECONFIG, "fbank: log_floor %g: expected > 0", o->log_floor);

    ssm_fbank *fb = calloc(1, sizeof *fb);
    if (!fb)
        return ssm_fail(err, SSM_ENOMEM, "fbank: cannot allocate");
    fb->o = *o;
    fb->win = win;
    fb->shift = shift;
    fb->nfft = nfft;
    fb->nbins = o->num_mel_bins;
    fb->window = malloc((size_t)win * sizeof *fb->window);
    double *in = fftw_malloc((size_t)nfft * sizeof *in);
    fftw_complex *spec = fftw_malloc((size_t)(nfft / 2 + 1) * sizeof *spec);
    if (in && spec) {
        pthread_mutex_lock(&fftw_lock);
        fb->plan = fftw_plan_dft_r2c_1d(nfft, in, spec, FFTW_ESTIMATE);
        pthread_mutex_unlock(&fftw_lock);
    }
    fftw_free(in);
    fftw_free(spec);
    if (!fb->window || !fb->plan) {
        ssm_fbank_free(fb);
        return ssm_fail(err, SSM_ENOMEM, "fbank: cannot allocate an FFT of %d", nfft);
    }
    make_window(fb->window, win, o->window, o->blackman_coeff);
    ssm_code rc = make_mel(fb, low, high, err);
    if (rc != SSM_OK) {
        ssm_fbank_free(fb);
        return rc;
    }
    *out = fb;
    return SSM_OK;
}

void ssm_fbank_free(ssm_fbank *fb) {
    if (!fb)
        return;
    if (fb->plan) {
        pthread_mutex_lock(&fftw_lock);
        fftw_destroy_plan(fb->plan);
        pthread_mutex_unlock(&fftw_lock);
    }
    free(fb->window);
    free(fb->first);
    free(fb->count);
    free(fb->off);
    free(fb->w);
    free(fb);
}

int64_t ssm_fbank_num_frames(const ssm_fbank *fb, int64_t n) {
    if (n < fb->win)
        return 0;
    if (fb->o.snip_edges)
        return 1 + (n - fb->win) / fb->shift;
    return (n + fb->shift / 2) / fb->shift;
}
int ssm_fbank_num_bins(const ssm_fbank *fb) { return fb->nbins; }
int ssm_fbank_window_size(const ssm_fbank *fb) { return fb->win; }
int ssm_fbank_fft_size(const ssm_fbank *fb) { return fb->nfft; }

// power (or magnitude) spectrum spec[0 .. nfft/2] of frame[0 .. nfft)
static void spectrum(const ssm_fbank *fb, double *frame, fftw_complex *z, double *spec) {
    const int h = fb->nfft / 2;
    fftw_execute_dft_r2c(fb->plan, frame, z);
    for (int k = 0; k <= h; k++)
        spec[k] = z[k][0] * z[k][0] + z[k][1] * z[k][1];
    if (!fb->o.use_power)
        for (int k = 0; k <= h; k++)
            spec[k] = sqrt(spec[k]);
}

// Sample j of the clip as kaldi.py's _get_strided sees it: with snip_edges
// off the clip is mirrored at both ends ([x1 x0 | x0 x1 ... xn-1 | xn-1 ...]).
static inline int64_t reflect(int64_t j, int64_t n) {
    if (j < 0)
        return -j - 1;
    if (j >= n)
        return 2 * n - 1 - j;
    return j;
}

ssm_code ssm_fbank_compute(const ssm_fbank *fb, const float *wave, int64_t n, float *out,
                           ssm_error *err) {
    const ssm_fbank_opts *o = &fb->o;
    const int win = fb->win, nfft = fb->nfft, nb = fb->nbins;
    if (n < win)
        return ssm_fail(err, SSM_EDATA, "fbank: a clip of %lld samples is shorter than one window"
                        " (%d samples = %g ms at %g Hz); expected at least one window (pad short"
                        " clips first)", (long long)n, win, o->frame_length_ms, o->sample_rate);
    const int64_t frames = ssm_fbank_num_frames(fb, n);
    double *frame = fftw_malloc((size_t)nfft * sizeof *frame);
    fftw_complex *z = fftw_malloc((size_t)(nfft / 2 + 1) * sizeof *z);
    double *spec = malloc((size_t)(nfft / 2 + 1) * sizeof *spec);
    if (!frame || !z || !spec) {
        fftw_free(frame);
        fftw_free(z);
        free(spec);
        return ssm_fail(err, SSM_ENOMEM, "fbank: cannot allocate a frame of %d", nfft);
    }
    // AST's wave - wave.mean()
    double clip_mean = 0.0;
    if (o->remove_dc_clip) {
        for (int64_t i = 0; i < n; i++)
            clip_mean += wave[i];
        clip_mean /= (double)n;
    }
    // snip_edges off: frame t starts at t * shift - (win / 2 - shift / 2)
    const int64_t lead = o->snip_edges ? 0 : (int64_t)(win / 2 - fb->shift / 2);
    const double pre = o->preemphasis, floor_ = o->log_floor;
    for (int64_t t = 0; t < frames; t++) {
        const int64_t start = t * fb->shift - lead;
        if (start >= 0 && start + win <= n)
            for (int i = 0; i < win; i++)
                frame[i] = wave[start + i] - clip_mean;
        else
            for (int i = 0; i < win; i++)
                frame[i] = wave[reflect(start + i, n)] - clip_mean;
        if (o->remove_dc_offset) {
            double s = 0.0;
            for (int i = 0; i < win; i++)
                s += frame[i];
            const double m = s / win;
            for (int i = 0; i < win; i++)
                frame[i] -= m;
        }
        if (pre != 0.0) {
            // backwards so that frame[i - 1] is still the unemphasised sample
            for (int i = win - 1; i > 0; i--)
                frame[i] -= pre * frame[i - 1];
            frame[0] -= pre * frame[0];
        }
        for (int i = 0; i < win; i++)
            frame[i] *= fb->window[i];
        for (int i = win; i < nfft; i++)
            frame[i] = 0.0;
        spectrum(fb, frame, z, spec);
        float *row = out + t * nb;
        for (int b = 0; b < nb; b++) {
            const double *w = fb->w + fb->off[b];
            const double *s = spec + fb->first[b];
            double acc = 0.0;
            for (int k = 0; k < fb->count[b]; k++)
                acc += w[k] * s[k];
            // logf: the output is float, and the floor keeps acc a normal float
            row[b] = o->use_log ? logf((float)fmax(acc, floor_)) : (float)acc;
        }
    }
    fftw_free(frame);
    fftw_free(z);
    free(spec);
    if (o->subtract_mean && frames > 0)
        for (int b = 0; b < nb; b++) {
            double s = 0.0;
            for (int64_t t = 0; t < frames; t++)
                s += out[t * nb + b];
            const float m = (float)(s / (double)frames);
            for (int64_t t = 0; t < frames; t++)
                out[t * nb + b] -= m;
        }
    return SSM_OK;
}
