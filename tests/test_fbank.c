// Check suite: datasets/fbank: torchaudio's kaldi.fbank on the golden
// fixtures of tests/fbank_golden.py (real and generated clips, the AST
// defaults and other option sets) to 1e-3 in log-mel units, against torch's
// float64 results (the exact reference) and its float32 ones (kept for the
// clips where float32 torch is itself that exact); every window
// and FFT size against a naive double-precision DFT pipeline; soxr against
// torchaudio's resampler in the passband; frame counts;
// a tone lands in its mel bin; one filterbank shared by many threads; bad
// options and short clips refused with the option named.
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/audio_read.h"
#include "datasets/fbank.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define FIXTURES "tests/fixtures/fbank"

// ------------------------------------------------------- fixture files

typedef struct {
    char text[1024];
    int64_t rows, cols;
    float *v; // [rows, cols], s16 already divided by 32768
} fbk;

static void fbk_read(const char *name, fbk *f) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "%s: missing (run tests from the repository root;"
                  " tests/fbank_golden.py writes it)", path);
    char magic[8];
    uint32_t t, r, c;
    ck_assert_int_eq(fread(magic, 1, 8, fp), 8);
    ck_assert_msg(memcmp(magic, "SSMFBK01", 8) == 0, "%s: bad magic", path);
    ck_assert_int_eq(fread(&t, 4, 1, fp), 1);
    ck_assert_uint_lt(t, sizeof f->text);
    ck_assert_int_eq(fread(f->text, 1, t, fp), t);
    f->text[t] = 0;
    ck_assert_int_eq(fread(&r, 4, 1, fp), 1);
    ck_assert_int_eq(fread(&c, 4, 1, fp), 1);
    f->rows = r;
    f->cols = c;
    size_t n = (size_t)r * c;
    f->v = malloc((n ? n : 1) * sizeof *f->v);
    if (strstr(f->text, "dtype=s16")) {
        int16_t *s = malloc((n ? n : 1) * sizeof *s);
        ck_assert_int_eq(fread(s, 2, n, fp), n);
        for (size_t i = 0; i < n; i++)
            f->v[i] = (float)s[i] / 32768.0f;
        free(s);
    } else {
        ck_assert_msg(strstr(f->text, "dtype=f32") != NULL, "%s: no dtype", path);
        ck_assert_int_eq(fread(f->v, 4, n, fp), n);
    }
    fclose(fp);
}

// the value of " key=" in text (NULL if absent); the text has no spaces in values
static const char *kv(const char *text, const char *key, char *buf, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(text, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, " ");
    ck_assert_uint_lt(n, cap);
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}
static double kv_num(const char *text, const char *key) {
    char b[128];
    ck_assert_msg(kv(text, key, b, sizeof b) != NULL, "fixture lacks %s: %s", key, text);
    return atof(b);
}

// torchaudio's option names -> ssm_fbank_opts
static void opts_from_text(const char *text, ssm_fbank_opts *o) {
    char b[128];
    ssm_error e = {0};
    ssm_fbank_opts_default(o);
    o->sample_rate = kv_num(text, "sample_frequency");
    o->frame_length_ms = kv_num(text, "frame_length");
    o->frame_shift_ms = kv_num(text, "frame_shift");
    o->round_to_power_of_two = (int)kv_num(text, "round_to_power_of_two");
    o->remove_dc_clip = (int)kv_num(text, "remove_dc_clip");
    o->remove_dc_offset = (int)kv_num(text, "remove_dc_offset");
    o->preemphasis = kv_num(text, "preemphasis_coefficient");
    ck_assert_ptr_nonnull(kv(text, "window_type", b, sizeof b));
    ck_assert_msg(ssm_fbank_window_parse(b, &o->window, &e) == SSM_OK, "%s", e.msg);
    o->blackman_coeff = kv_num(text, "blackman_coeff");
    o->num_mel_bins = (int)kv_num(text, "num_mel_bins");
    o->low_freq = kv_num(text, "low_freq");
    o->high_freq = kv_num(text, "high_freq");
    o->use_power = (int)kv_num(text, "use_power");
    o->use_log = (int)kv_num(text, "use_log_fbank");
    o->snip_edges = (int)kv_num(text, "snip_edges");
    o->subtract_mean = (int)kv_num(text, "subtract_mean");
}

START_TEST(matches_torchaudio_golden_fixtures) {
    FILE *idx = fopen(FIXTURES "/index.txt", "r");
    ck_assert_msg(idx != NULL, FIXTURES "/index.txt missing (run from the repository root)");
    char line[256];
    int cases = 0, log_cases = 0, f32_cases = 0, windows_seen = 0, failed = 0;
    while (fgets(line, sizeof line, idx)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        fbk want, in;
        fbk_read(line, &want);
        char inname[256];
        ck_assert_ptr_nonnull(kv(want.text, "input", inname, sizeof inname));
        fbk_read(inname, &in);
        ck_assert_int_eq(in.rows, 1);
        ssm_fbank_opts o;
        opts_from_text(want.text, &o);
        ck_assert_double_eq(o.sample_rate, kv_num(in.text, "sample_rate"));
        windows_seen |= 1 << o.window;
        ssm_fbank *fb;
        ssm_error e = {0};
        ck_assert_msg(ssm_fbank_create(&fb, &o, &e) == SSM_OK, "%s: %s", line, e.msg);
        ck_assert_int_eq(ssm_fbank_num_frames(fb, in.cols), want.rows);
        ck_assert_int_eq(ssm_fbank_num_bins(fb), want.cols);
        float *got = malloc((size_t)(want.rows * want.cols) * sizeof *got);
        ck_assert_msg(ssm_fbank_compute(fb, in.v, in.cols, got, &e) == SSM_OK, "%s", e.msg);
        double worst = 0, mean = 0, peak = 0;
        int64_t at = 0;
        for (int64_t i = 0; i < want.rows * want.cols; i++) {
            double d = fabs((double)got[i] - want.v[i]);
            // linear energies: relative to the largest (float32 sums of
            // hundreds of terms in torch; the log cases are the contract)
            mean += d;
            peak = fmax(peak, fabs(want.v[i]));
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        mean /= (double)(want.rows * want.cols);
        char dt[32];
        ck_assert_ptr_nonnull(kv(want.text, "torch_dtype", dt, sizeof dt));
        const int exact = strcmp(dt, "float64") == 0;
        if (o.use_log) {
            log_cases++;
            f32_cases += !exact;
            printf("%-36s %3ld x %3ld  max |diff| %.2e  mean %.2e (log-mel) at frame %ld bin %ld"
                   " (C %.6f, torch %.6f)\n", line, (long)want.rows, (long)want.cols, worst, mean,
                   (long)(at / want.cols), (long)(at % want.cols), got[at], want.v[at]);
            failed += worst > 1e-3;
        } else {
            printf("%-36s %3ld x %3ld  max |diff| %.2e of peak %.2e (linear)\n", line,
                   (long)want.rows, (long)want.cols, worst, peak);
            failed += worst > 1e-5 * peak;
        }
        free(got);
        ssm_fbank_free(fb);
        free(want.v);
        free(in.v);
        cases++;
    }
    fclose(idx);
    ck_assert_msg(failed == 0, "%d of %d cases differ from torchaudio by more than 1e-3"
                  " in log-mel units, or 1e-5 of the peak (linear): see above", failed, cases);
    // the fixtures cover the AST defaults, povey and every other window
    ck_assert_int_ge(cases, 15);
    ck_assert_int_ge(log_cases, 14);
    ck_assert_int_ge(f32_cases, 3);
    ck_assert_int_eq(windows_seen, 0x1f);
}
END_TEST

// The pipeline with an 8 kHz source: the digit's 8 kHz samples resampled by
// libsoxr, against the fixture torchaudio resampled (torchaudio.functional.
// resample) before its fbank. The two resamplers are different filters; on
// the mel bins below 2.7 kHz (0 .. 79 of 128) the features agree to 0.021
// (mean 1.7e-3); near and above the 4 kHz band edge they part (soxr's stopband
// is deeper), so those bins are not compared.
START_TEST(soxr_and_torchaudio_resampling_agree_in_the_passband) {
    fbk in8, in16, want;
    fbk_read("digit7_8k.in.fbk", &in8);
    fbk_read("digit7_16k.in.fbk", &in16);
    fbk_read("digit7_16k.ast.fbk", &want);
    float *y;
    int64_t m;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_resample(in8.v, in8.cols, 8000, 16000, &y, &m, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(m, in16.cols);
    ssm_fbank_opts o;
    ssm_fbank_opts_default(&o);
    ssm_fbank *fb;
    ck_assert_int_eq(ssm_fbank_create(&fb, &o, &e), SSM_OK);
    ck_assert_int_eq(ssm_fbank_num_frames(fb, m), want.rows);
    float *f = malloc((size_t)(want.rows * want.cols) * sizeof *f);
    ck_assert_int_eq(ssm_fbank_compute(fb, y, m, f, &e), SSM_OK);
    double worst = 0, mean = 0;
    for (int64_t t = 0; t < want.rows; t++)
        for (int b = 0; b < 80; b++) {
            double d = fabs(f[t * want.cols + b] - want.v[t * want.cols + b]);
            worst = fmax(worst, d);
            mean += d / (double)(want.rows * 80);
        }
    printf("soxr vs torchaudio resampling, digit 8 -> 16 kHz, mel bins < 2.7 kHz: max %.3f mean %.1e\n",
           worst, mean);
    ck_assert_double_lt(worst, 0.05);
    ck_assert_double_lt(mean, 5e-3);
    ssm_fbank_free(fb);
    free(f);
    free(y);
    free(in8.v);
    free(in16.v);
    free(want.v);
}
END_TEST

// ------------------------------------------- naive double-precision pipeline

static double naive_window(ssm_fbank_window w, int i, int n, double c) {
    double a = 2 * M_PI / (n - 1), h = 0.5 - 0.5 * cos(a * i);
    switch (w) {
    case SSM_FBANK_HANNING: return h;
    case SSM_FBANK_POVEY: return pow(h, 0.85);
    case SSM_FBANK_HAMMING: return 0.54 - 0.46 * cos(a * i);
    case SSM_FBANK_RECTANGULAR: return 1;
    case SSM_FBANK_BLACKMAN: return c - 0.5 * cos(a * i) + (0.5 - c) * cos(2 * a * i);
    }
    return 0;
}
static double mel(double f) { return 1127 * log(1 + f / 700); }

// Kaldi's recipe written out plainly, snip_edges framing, O(N^2) DFT.
static void naive_fbank(const float *x, int64_t n, const ssm_fbank_opts *o, int win, int shift,
                        int nfft, double *out, int64_t frames) {
    double cm = 0;
    if (o->remove_dc_clip) {
        for (int64_t i = 0; i < n; i++)
            cm += x[i];
        cm /= n;
    }
    double nyq = o->sample_rate / 2, lo = o->low_freq, hi = o->high_freq <= 0 ? nyq + o->high_freq : o->high_freq;
    // the mel weights in float32 as torch computes them (the rest in double)
    const float ml = (float)mel(lo), dm = (float)((mel(hi) - mel(lo)) / (o->num_mel_bins + 1));
    double *fr = calloc(nfft, sizeof *fr), *p = calloc(nfft / 2 + 1, sizeof *p);
    for (int64_t t = 0; t < frames; t++) {
        double m = 0;
        for (int i = 0; i < win; i++)
            fr[i] = x[t * shift + i] - cm;
        for (int i = 0; i < win; i++)
            m += fr[i] / win;
        if (o->remove_dc_offset)
            for (int i = 0; i < win; i++)
                fr[i] -= m;
        double prev = fr[0];
        for (int i = 0; i < win; i++) {
            double cur = fr[i];
            fr[i] = cur - o->preemphasis * prev;
            prev = cur;
        }
        for (int i = 0; i < win; i++)
            fr[i] *= naive_window(o->window, i, win, o->blackman_coeff);
        for (int k = 0; k <= nfft / 2; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < win; i++) {
                re += fr[i] * cos(2 * M_PI * k * i / nfft);
                im -= fr[i] * sin(2 * M_PI * k * i / nfft);
            }
            p[k] = re * re + im * im;
            if (!o->use_power)
                p[k] = sqrt(p[k]);
        }
        for (int b = 0; b < o->num_mel_bins; b++) {
            float l = ml + (float)b * dm, c = ml + ((float)b + 1) * dm, r = ml + ((float)b + 2) * dm;
            double s = 0;
            for (int k = 0; k < nfft / 2; k++) { // the Nyquist bin weighs 0
                float mk = 1127.0f * logf(1.0f + (float)(o->sample_rate / nfft) * (float)k / 700.0f);
                double wgt = fmaxf(0, fminf((mk - l) / (c - l), (r - mk) / (r - c)));
                s += wgt * p[k];
            }
            out[t * o->num_mel_bins + b] = o->use_log ? log(fmax(s, o->log_floor)) : s;
        }
    }
    free(fr);
    free(p);
}

START_TEST(every_window_and_fft_size_matches_a_naive_dft) {
    uint64_t st = 42;
    const int64_t n = 4000;
    float *x = malloc(n * sizeof *x);
    for (int64_t i = 0; i < n; i++) // a tone + noise, 16 kHz
        x[i] = (float)(0.3 * sin(2 * M_PI * 700.0 * i / 16000.0) + 0.1 * (tu_uniform(&st) - 0.5));
    for (int w = 0; w < 5; w++)
        for (int pow2 = 0; pow2 <= 1; pow2++) {
            ssm_fbank_opts o;
            ssm_fbank_opts_default(&o);
            o.window = (ssm_fbank_window)w;
            o.round_to_power_of_two = pow2;
            o.num_mel_bins = pow2 ? 128 : 40;
            o.use_power = w != SSM_FBANK_BLACKMAN;
            o.preemphasis = w == SSM_FBANK_HAMMING ? 0.0 : 0.97;
            ssm_fbank *fb;
            ssm_error e = {0};
            ck_assert_msg(ssm_fbank_create(&fb, &o, &e) == SSM_OK, "%s", e.msg);
            ck_assert_int_eq(ssm_fbank_fft_size(fb), pow2 ? 512 : 400);
            int64_t T = ssm_fbank_num_frames(fb, n);
            ck_assert_int_eq(T, 1 + (n - 400) / 160);
            float *got = malloc((size_t)(T * o.num_mel_bins) * sizeof *got);
            double *want = malloc((size_t)(T * o.num_mel_bins) * sizeof *want);
            ck_assert_int_eq(ssm_fbank_compute(fb, x, n, got, &e), SSM_OK);
            naive_fbank(x, n, &o, 400, 160, ssm_fbank_fft_size(fb), want, T);
            double worst = 0;
            for (int64_t i = 0; i < T * o.num_mel_bins; i++)
                worst = fmax(worst, fabs(got[i] - want[i]));
            printf("naive DFT, %-11s FFT %d: max |diff| %.2e (log-mel)\n",
                   ssm_fbank_window_name(o.window), ssm_fbank_fft_size(fb), worst);
            ck_assert_double_lt(worst, 1e-5);
            free(got);
            free(want);
            ssm_fbank_free(fb);
        }
    free(x);
}
END_TEST

START_TEST(frame_counts_and_a_tone_in_its_bin) {
    ssm_fbank_opts o;
    ssm_fbank_opts_default(&o);
    ssm_fbank *fb;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_fbank_create(&fb, &o, &e), SSM_OK);
    ck_assert_int_eq(ssm_fbank_window_size(fb), 400);
    ck_assert_int_eq(ssm_fbank_fft_size(fb), 512);
    ck_assert_int_eq(ssm_fbank_num_bins(fb), 128);
    ck_assert_int_eq(ssm_fbank_num_frames(fb, 16000), 98); // AST's 1 s keyword clip
    ck_assert_int_eq(ssm_fbank_num_frames(fb, 160000), 998);
    ck_assert_int_eq(ssm_fbank_num_frames(fb, 400), 1);
    ck_assert_int_eq(ssm_fbank_num_frames(fb, 399), 0);
    // a 2 kHz tone: the loudest bin is the one whose centre is nearest 2 kHz
    float *x = malloc(16000 * sizeof *x), *f = malloc(98 * 128 * sizeof *f);
    for (int i = 0; i < 16000; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 2000.0 * i / 16000.0));
    ck_assert_int_eq(ssm_fbank_compute(fb, x, 16000, f, &e), SSM_OK);
    double ml = mel(20), dm = (mel(8000) - ml) / 129, best_d = 1e9;
    int want = -1, got = 0;
    for (int b = 0; b < 128; b++) {
        double d = fabs(700 * (exp((ml + (b + 1) * dm) / 1127) - 1) - 2000);
        if (d < best_d) {
            best_d = d;
            want = b;
        }
        if (f[50 * 128 + b] > f[50 * 128 + got])
            got = b;
    }
    ck_assert_int_eq(got, want);
    // a clip shorter than a window is refused, naming the sizes
    ck_assert_int_eq(ssm_fbank_compute(fb, x, 399, f, &e), SSM_EDATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "399 samples is shorter than one window (400"));
    ssm_fbank_free(fb);
    // snip_edges off: (N + shift/2) / shift frames, from 400 samples up
    o.snip_edges = 0;
    ck_assert_int_eq(ssm_fbank_create(&fb, &o, &e), SSM_OK);
    ck_assert_int_eq(ssm_fbank_num_frames(fb, 16000), 100);
    ck_assert_int_eq(ssm_fbank_num_frames(fb, 479), 3);
    ssm_fbank_free(fb);
    free(x);
    free(f);
}
END_TEST

START_TEST(one_filterbank_serves_many_threads) {
    ssm_fbank_opts o;
    ssm_fbank_opts_default(&o);
    ssm_fbank *fb;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_fbank_create(&fb, &o, &e), SSM_OK);
    enum { CLIPS = 16, N = 16000, T = 98 };
    float *x = malloc((size_t)CLIPS * N * sizeof *x);
    float *serial = malloc((size_t)CLIPS * T * 128 * sizeof *serial);
    float *par = malloc((size_t)CLIPS * T * 128 * sizeof *par);
    uint64_t st = 7;
    for (int64_t i = 0; i < (int64_t)CLIPS * N; i++)
        x[i] = (float)(tu_uniform(&st) - 0.5);
    for (int c = 0; c < CLIPS; c++)
        ck_assert_int_eq(ssm_fbank_compute(fb, x + c * N, N, serial + c * T * 128, &e), SSM_OK);
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int c = 0; c < CLIPS; c++)
        bad += ssm_fbank_compute(fb, x + c * N, N, par + c * T * 128, NULL) != SSM_OK;
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(memcmp(serial, par, (size_t)CLIPS * T * 128 * sizeof *par), 0);
    ssm_fbank_free(fb);
    free(x);
    free(serial);
    free(par);
}
END_TEST

static void expect_bad(ssm_fbank_opts *o, const char *what) {
    ssm_fbank *fb = (ssm_fbank *)1;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_fbank_create(&fb, o, &e), SSM_ECONFIG);
    ck_assert_ptr_null(fb);
    ck_assert_msg(strstr(e.msg, what) != NULL, "message lacks '%s': %s", what, e.msg);
    ssm_fbank_opts_default(o);
}

START_TEST(bad_options_are_refused_by_name) {
    ssm_fbank_opts o;
    ssm_fbank_opts_default(&o);
    o.sample_rate = 0;
    expect_bad(&o, "sample_rate 0");
    o.frame_length_ms = 0.1;
    expect_bad(&o, "frame_length_ms 0.1");
    o.frame_shift_ms = 0;
    expect_bad(&o, "frame_shift_ms 0");
    o.round_to_power_of_two = 0;
    o.frame_length_ms = 25.0625; // 401 samples: an odd FFT size
    expect_bad(&o, "expected an even size");
    o.preemphasis = 1.5;
    expect_bad(&o, "preemphasis 1.5");
    o.num_mel_bins = 3;
    expect_bad(&o, "num_mel_bins 3");
    o.low_freq = 9000;
    expect_bad(&o, "low_freq 9000");
    o.high_freq = -8000;
    expect_bad(&o, "high_freq -8000");
    o.log_floor = 0;
    expect_bad(&o, "log_floor 0");
    o.window = (ssm_fbank_window)9;
    expect_bad(&o, "window 9");
    ssm_fbank_window w;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_fbank_window_parse("hann", &w, &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "'hann': expected one of hanning, povey"));
    ck_assert_int_eq(ssm_fbank_window_parse("POVEY", &w, &e), SSM_OK);
    ck_assert_int_eq(w, SSM_FBANK_POVEY);
    ck_assert_str_eq(ssm_fbank_window_name(SSM_FBANK_BLACKMAN), "blackman");
}
END_TEST

int main(void) {
    Suite *s = suite_create("fbank");
    TCase *tc = tcase_create("fbank");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, matches_torchaudio_golden_fixtures);
    tcase_add_test(tc, soxr_and_torchaudio_resampling_agree_in_the_passband);
    tcase_add_test(tc, every_window_and_fft_size_matches_a_naive_dft);
    tcase_add_test(tc, frame_counts_and_a_tone_in_its_bin);
    tcase_add_test(tc, one_filterbank_serves_many_threads);
    tcase_add_test(tc, bad_options_are_refused_by_name);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
