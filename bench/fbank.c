// defines: main (benchmark of the audio front end, one core)
// Three tables, all on one thread (the prefetch workers run one clip per core):
//  1. the real FFT alone, per frame: GSL (radix-2 and mixed-radix) against
//     FFTW (planned with FFTW_ESTIMATE and FFTW_MEASURE), double and float,
//     at the AST size 512 and at 400 (round_to_power_of_two off);
//  2. the whole log-mel fbank of datasets/fbank.c (whichever FFT it uses):
//     ms per clip and times real time, 1 s and 10 s clips at 16 kHz;
//  3. libsoxr resampling of 10 s clips to 16 kHz (datasets/audio_read.c).
// Usage: fbank [reps] (default 5; each number is the best of reps runs).
#include <fftw3.h>
#include <gsl/gsl_fft_real.h>
#include <gsl/gsl_fft_real_float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/timing.h"
#include "datasets/audio_read.h"
#include "datasets/fbank.h"

static void *xmalloc(size_t n) {
    void *p = fftw_malloc(n);
    if (!p) {
        fprintf(stderr, "fbank bench: out of memory\n");
        exit(1);
    }
    return p;
}

static float noise(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*st >> 11) * 0x1.0p-53 - 0.5);
}

// ---------------------------------------------------------------- table 1

enum { FRAMES = 2000 }; // transforms per timed run: a 20 s clip's worth

typedef enum { GSL_R2, GSL_MR, FFTW_EST, FFTW_MEAS } fft_kind;
static const char *KIND_NAMES[] = {"GSL radix-2", "GSL mixed-radix", "FFTW estimate", "FFTW measure"};

// ns per transform of n points, double or float; < 0: not applicable
static double time_fft(fft_kind kind, int n, int dbl, int reps) {
    if (kind == GSL_R2 && (n & (n - 1)))
        return -1;
    uint64_t st = 3;
    const size_t sz = dbl ? sizeof(double) : sizeof(float);
    void *src = xmalloc((size_t)n * FRAMES * sz), *buf = xmalloc((size_t)n * sz);
    void *cplx = xmalloc((size_t)(n / 2 + 1) * 2 * sz);
    for (int i = 0; i < n * FRAMES; i++) {
        if (dbl)
            ((double *)src)[i] = noise(&st);
        else
            ((float *)src)[i] = noise(&st);
    }
    fftw_plan pd = NULL;
    fftwf_plan pf = NULL;
    unsigned flags = kind == FFTW_MEAS ? FFTW_MEASURE : FFTW_ESTIMATE;
    if (kind == FFTW_EST || kind == FFTW_MEAS) {
        if (dbl)
            pd = fftw_plan_dft_r2c_1d(n, buf, cplx, flags);
        else
            pf = fftwf_plan_dft_r2c_1d(n, buf, cplx, flags);
    }
    gsl_fft_real_wavetable *wt = NULL;
    gsl_fft_real_workspace *ws = NULL;
    gsl_fft_real_wavetable_float *wtf = NULL;
    gsl_fft_real_workspace_float *wsf = NULL;
    if (kind == GSL_MR) {
        if (dbl) {
            wt = gsl_fft_real_wavetable_alloc((size_t)n);
            ws = gsl_fft_real_workspace_alloc((size_t)n);
        } else {
            wtf = gsl_fft_real_wavetable_float_alloc((size_t)n);
            wsf = gsl_fft_real_workspace_float_alloc((size_t)n);
        }
    }
    double best = 1e30, sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int f = 0; f < FRAMES; f++) {
            // copy in, as fbank does (GSL transforms in place)
            memcpy(buf, (char *)src + (size_t)f * n * sz, (size_t)n * sz);
            switch (kind) {
            case GSL_R2:
                if (dbl)
                    gsl_fft_real_radix2_transform(buf, 1, (size_t)n);
                else
                    gsl_fft_real_float_radix2_transform(buf, 1, (size_t)n);
                break;
            case GSL_MR:
                if (dbl)
                    gsl_fft_real_transform(buf, 1, (size_t)n, wt, ws);
                else
                    gsl_fft_real_float_transform(buf, 1, (size_t)n, wtf, wsf);
                break;
            default:
                if (dbl)
                    fftw_execute_dft_r2c(pd, buf, cplx);
                else
                    fftwf_execute_dft_r2c(pf, buf, cplx);
            }
            sink += dbl ? ((double *)buf)[1] : ((float *)buf)[1];
        }
        double t = (bench_now() - t0) / FRAMES * 1e9;
        best = t < best ? t : best;
    }
    if (sink == 12345.678)
        printf("#");
    if (pd)
        fftw_destroy_plan(pd);
    if (pf)
        fftwf_destroy_plan(pf);
    if (wt) {
        gsl_fft_real_wavetable_free(wt);
        gsl_fft_real_workspace_free(ws);
    }
    if (wtf) {
        gsl_fft_real_wavetable_float_free(wtf);
        gsl_fft_real_workspace_float_free(wsf);
    }
    fftw_free(src);
    fftw_free(buf);
    fftw_free(cplx);
    return best;
}

// ---------------------------------------------------------------- table 2

static double time_fbank(ssm_fbank_window w, double seconds, int reps, int64_t *frames) {
    ssm_fbank_opts o;
    ssm_fbank_opts_default(&o);
    o.window = w;
    ssm_fbank *fb;
    ssm_error e = {0};
    if (ssm_fbank_create(&fb, &o, &e) != SSM_OK) {
        fprintf(stderr, "fbank bench: %s\n", e.msg);
        exit(1);
    }
    const int64_t n = (int64_t)(seconds * 16000);
    float *x = malloc((size_t)n * sizeof *x);
    uint64_t st = 5;
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.3f * (float)sin(2 * M_PI * 440.0 * i / 16000.0) + 0.1f * noise(&st);
    *frames = ssm_fbank_num_frames(fb, n);
    float *out = malloc((size_t)(*frames * ssm_fbank_num_bins(fb)) * sizeof *out);
    // short clips repeat inside one timed run so that each run lasts ~50 ms
    const int inner = seconds < 5 ? 20 : 2;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int k = 0; k < inner; k++)
            if (ssm_fbank_compute(fb, x, n, out, &e) != SSM_OK) {
                fprintf(stderr, "fbank bench: %s\n", e.msg);
                exit(1);
            }
        double t = (bench_now() - t0) / inner;
        best = t < best ? t : best;
    }
    free(x);
    free(out);
    ssm_fbank_free(fb);
    return best;
}

// ---------------------------------------------------------------- table 3

static double time_resample(int from, double seconds, int reps) {
    const int64_t n = (int64_t)(seconds * from);
    float *x = malloc((size_t)n * sizeof *x), *y;
    uint64_t st = 9;
    for (int64_t i = 0; i < n; i++)
        x[i] = noise(&st);
    int64_t m;
    ssm_error e = {0};
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        if (ssm_audio_resample(x, n, from, 16000, &y, &m, &e) != SSM_OK) {
            fprintf(stderr, "fbank bench: %s\n", e.msg);
            exit(1);
        }
        double t = bench_now() - t0;
        free(y);
        best = t < best ? t : best;
    }
    free(x);
    return best;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1)
        reps = 1;
    printf("# audio front end, 1 thread, best of %d\n\n", reps);
    printf("## real FFT of one frame (ns per transform, %d frames per run)\n\n", FRAMES);
    printf("| FFT | n | double ns | float ns |\n|---|---:|---:|---:|\n");
    const int sizes[] = {512, 400};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 4; k++) {
            double td = time_fft((fft_kind)k, sizes[s], 1, reps);
            double tf = time_fft((fft_kind)k, sizes[s], 0, reps);
            if (td < 0)
                continue;
            printf("| %s | %d | %.0f | %.0f |\n", KIND_NAMES[k], sizes[s], td, tf);
        }
    printf("\n## log-mel fbank, datasets/fbank.c (AST options: 25/10 ms, FFT 512, 128 bins)\n\n");
    printf("| window | clip | frames | ms per clip | x real time |\n|---|---:|---:|---:|---:|\n");
    const ssm_fbank_window ws[] = {SSM_FBANK_HANNING, SSM_FBANK_POVEY};
    const double secs[] = {1.0, 10.0};
    for (int w = 0; w < 2; w++)
        for (int s = 0; s < 2; s++) {
            int64_t frames;
            double t = time_fbank(ws[w], secs[s], reps, &frames);
            printf("| %s | %.0f s | %ld | %.3f | %.0f |\n", ssm_fbank_window_name(ws[w]), secs[s],
                   (long)frames, t * 1e3, secs[s] / t);
        }
    printf("\n## resampling to 16 kHz, libsoxr HQ (datasets/audio_read.c), 10 s clips\n\n");
    printf("| from | ms per clip | x real time |\n|---:|---:|---:|\n");
    const int rates[] = {8000, 22050, 44100, 48000};
    for (int r = 0; r < 4; r++) {
        double t = time_resample(rates[r], 10.0, reps);
        printf("| %d Hz | %.3f | %.0f |\n", rates[r], t * 1e3, 10.0 / t);
    }
    return 0;
}
