// Check suite: audio augmentation (datasets/audio_augment.h) and the audio sample source
// (datasets/audio_source.h): choices are pure functions of the key (same key, same bits;
// evaluation draws nothing); SpecAugment masks follow torchaudio's mask_along_axis by hand
// and their widths are uniform below the parameter over many keys; masked cells are 0 and
// nothing else moves; mixup's lambda has Beta(10, 10)'s mean and variance, mixed clips are
// zero-mean and soft-label rows sum to 1 on the two classes; shift, roll, gain and noise at
// a target SNR against direct computation; the source's x is bit-identical for one key.
#include <check.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/audio_augment.h"
#include "datasets/audio_source.h"
#include "datasets/augment.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

START_TEST(choices_are_pure_functions_of_the_key) {
    ssm_audio_aug a = {.freq_mask = 24, .time_mask = 48, .n_masks = 2, .shift = 0.1,
                       .gain_db = 6, .noise_p = 0.5, .snr_min = 0, .snr_max = 20,
                       .mixup_p = 0.5, .mixup_alpha = 10};
    uint64_t k1 = ssm_augment_key(7, 3, 11), k2 = ssm_augment_key(7, 4, 11);
    ssm_audio_choice c1 = ssm_audio_aug_choose(&a, k1, 1), c1b = ssm_audio_aug_choose(&a, k1, 1),
                     c2 = ssm_audio_aug_choose(&a, k2, 1);
    ck_assert(memcmp(&c1, &c1b, sizeof c1) == 0);
    ck_assert(memcmp(&c1, &c2, sizeof c1) != 0); // another epoch, other choices
    ck_assert(fabs(c1.shift) <= 0.1 && c1.gain >= pow(10, -6 / 20.) && c1.gain <= pow(10, 6 / 20.));
    // evaluation: the identity, whatever the key
    ssm_audio_choice e = ssm_audio_aug_choose(&a, k1, 0);
    ck_assert(e.crop == 0 && e.shift == 0 && e.gain == 1 && !e.noise && !e.mix && e.lambda == 1);
    ck_assert(e.fmask[0][0] == 0 && e.tmask[1][1] == 0);
    // switching one augmentation off leaves the others' draws alone (fixed draw slots)
    ssm_audio_aug b = a;
    b.gain_db = 0;
    ssm_audio_choice c3 = ssm_audio_aug_choose(&b, k1, 1);
    ck_assert(c3.gain == 1 && c3.shift == c1.shift && c3.snr_db == c1.snr_db &&
              c3.lambda == c1.lambda && c3.fmask[1][0] == c1.fmask[1][0]);
}
END_TEST

START_TEST(specaug_masks_by_hand_and_their_statistics) {
    enum { T = 20, F = 16 };
    real x[T * F];
    for (int i = 0; i < T * F; i++)
        x[i] = (real)(i + 1);
    // frequency: value = 0.5 * 10 = 5, start = floor(0.25 * (16 - 5)) = 2: bins 2..6
    ck_assert_int_eq(ssm_specaug_mask(x, T, F, 1, 10, 0.5, 0.25), 5);
    for (int t = 0; t < T; t++)
        for (int f = 0; f < F; f++)
            ck_assert(x[t * F + f] == (f >= 2 && f < 7 ? 0 : (real)(t * F + f + 1)));
    // time: value = 0.99 * 4 = 3.96 -> width 3, start = floor(0.999 * (20 - 3.96)) = 16
    for (int i = 0; i < T * F; i++)
        x[i] = 1;
    ck_assert_int_eq(ssm_specaug_mask(x, T, F, 0, 4, 0.99, 0.999), 3);
    for (int t = 0; t < T; t++)
        ck_assert(x[t * F] == (t >= 16 && t < 19 ? 0 : 1));
    ck_assert_int_eq(ssm_specaug_mask(x, T, F, 0, 0, 0.5, 0.5), 0); // param 0: off
    // over many keys: widths uniform on 0..param-1 (mean (param-1)/2), inside the axis
    ssm_audio_aug a = {.freq_mask = 30, .time_mask = 30, .n_masks = 1};
    enum { N = 20000, TT = 100, FF = 128 };
    real *y = malloc(sizeof(real) * TT * FF);
    double sum = 0, sum2 = 0;
    int64_t hist[30] = {0};
    for (int k = 0; k < N; k++) {
        ssm_audio_choice c = ssm_audio_aug_choose(&a, ssm_augment_key(1, 0, k), 1);
        for (int i = 0; i < TT * FF; i++)
            y[i] = 1;
        int64_t w = ssm_specaug_mask(y, TT, FF, 1, a.freq_mask, c.fmask[0][0], c.fmask[0][1]);
        ck_assert(w >= 0 && w < 30);
        hist[w]++;
        int64_t zeros = 0;
        for (int i = 0; i < TT * FF; i++)
            zeros += y[i] == 0;
        ck_assert_int_eq(zeros, w * TT); // whole bins, in every frame
        sum += (double)w;
        sum2 += (double)w * (double)w;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    ck_assert_msg(fabs(mean - 14.5) < 0.15, "mean width %g", mean); // sd of the mean ~0.06
    ck_assert_msg(fabs(var - (900 - 1) / 12.0) < 3, "width variance %g", var);
    for (int w = 0; w < 30; w++) // each width ~667 times; 5 sd ~ 125
        ck_assert_msg(llabs(hist[w] - N / 30) < 130, "width %d seen %lld times", w,
                      (long long)hist[w]);
    free(y);
}
END_TEST

START_TEST(mixup_lambda_is_beta_10_10) {
    ssm_audio_aug a = {.mixup_p = 1, .mixup_alpha = 10};
    enum { N = 20000 };
    double s = 0, s2 = 0;
    for (int k = 0; k < N; k++) {
        ssm_audio_choice c = ssm_audio_aug_choose(&a, ssm_augment_key(3, 1, k), 1);
        ck_assert(c.mix && c.lambda > 0 && c.lambda < 1);
        s += c.lambda;
        s2 += c.lambda * c.lambda;
    }
    double mean = s / N, var = s2 / N - mean * mean;
    // Beta(10, 10): mean 1/2, variance 1/84 = 0.0119
    ck_assert_msg(fabs(mean - 0.5) < 0.004, "mean %g", mean);
    ck_assert_msg(fabs(var - 1 / 84.0) < 0.0008, "variance %g", var);
    // mixup_p = 0.3: about 30% of the samples mix
    a.mixup_p = 0.3;
    int mixed = 0;
    for (int k = 0; k < N; k++)
        mixed += ssm_audio_aug_choose(&a, ssm_augment_key(3, 2, k), 1).mix;
    ck_assert_msg(abs(mixed - 6000) < 300, "%d mixed", mixed);
}
END_TEST

START_TEST(shift_roll_gain_mix_noise) {
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, s[8];
    ssm_audio_shift(w, 8, 3, 1, s);
    const float rolled[8] = {6, 7, 8, 1, 2, 3, 4, 5};
    ck_assert(memcmp(w, rolled, sizeof w) == 0);
    ssm_audio_shift(w, 8, -2, 0, s);
    const float shifted[8] = {8, 1, 2, 3, 4, 5, 0, 0};
    ck_assert(memcmp(w, shifted, sizeof w) == 0);
    ssm_audio_shift(w, 8, 2, 0, s);
    const float back[8] = {0, 0, 8, 1, 2, 3, 4, 5};
    ck_assert(memcmp(w, back, sizeof w) == 0);
    ssm_audio_gain(w, 8, 0.5);
    ck_assert(w[2] == 4 && w[7] == 2.5f);
    // mix: zero-mean result = lambda (a - mean a) + (1 - lambda)(b - mean b)
    float a[4] = {1, 2, 3, 6}, b[4] = {10, 10, 10, 14};
    ssm_audio_mix(a, b, 4, 0.75);
    double m = 0;
    for (int i = 0; i < 4; i++)
        m += a[i];
    ck_assert(fabs(m) < 1e-6);
    ck_assert(fabs(a[3] - (0.75 * (6 - 3) + 0.25 * (14 - 11))) < 1e-6);
    // noise at 10 dB SNR: the added power is a tenth of the signal's
    enum { N = 16000 };
    float *sig = malloc(N * sizeof *sig), *orig = malloc(N * sizeof *orig), *noise = malloc(N * sizeof *noise);
    uint64_t st = 5;
    for (int i = 0; i < N; i++) {
        sig[i] = orig[i] = (float)(0.3 * sin(i * 0.05));
        noise[i] = (float)(tu_uniform(&st) - 0.5);
    }
    double g = ssm_audio_add_noise(sig, N, noise, N, 1234, 10);
    double ps = 0, pn = 0;
    for (int i = 0; i < N; i++) {
        ps += (double)orig[i] * orig[i];
        pn += ((double)sig[i] - orig[i]) * ((double)sig[i] - orig[i]);
        ck_assert(fabs(sig[i] - orig[i] - g * noise[(1234 + i) % N]) < 1e-6);
    }
    ck_assert_msg(fabs(10 * log10(ps / pn) - 10) < 1e-3, "SNR %g dB", 10 * log10(ps / pn));
    free(sig), free(orig), free(noise);
}
END_TEST

// ---- the source: one clip, bit-identical for a key, soft labels ----------------------

static void write_tone(const char *path, double hz, int n, double amp) {
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_ptr_nonnull(f);
    float *x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++)
        x[i] = (float)(amp * sin(2 * M_PI * hz * i / 16000.0));
    sf_writef_float(f, x, n);
    sf_close(f);
    free(x);
}

START_TEST(source_is_deterministic_and_soft_labels_sum_to_one) {
    char dir[256];
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir, "ssm_audio_aug"), 0);
    char p0[300], p1[300];
    snprintf(p0, sizeof p0, "%s/a.wav", dir);
    snprintf(p1, sizeof p1, "%s/b.wav", dir);
    write_tone(p0, 440, 16000, 0.3);
    write_tone(p1, 2000, 12000, 0.2);
    char *names[2] = {"low", "high"};
    ssm_audio_clip clips[2] = {{p0, 0, 0, 0}, {p1, 1, 0, 0}};
    ssm_audio_set set = {.n = 2, .clips = clips, .num_classes = 2, .class_names = names};
    ssm_fbank_opts fo;
    ssm_fbank_opts_default(&fo);
    fo.num_mel_bins = 40;
    ssm_fbank *fb;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_fbank_create(&fb, &fo, &e), SSM_OK);
    int64_t ids[2] = {0, 1};
    ssm_audio_source_opts o = {.set = &set, .fb = fb, .sample_rate = 16000, .target_frames = 64,
                               .train = 1, .mix_ids = ids, .n_mix = 2, .soft_labels = 1,
                               .normalize = 1, .mean = -5, .std = 4,
                               .aug = {.freq_mask = 8, .time_mask = 10, .n_masks = 1,
                                       .shift = 0.2, .gain_db = 6, .mixup_p = 1,
                                       .mixup_alpha = 10}};
    enum { TF = 64 * 40 };
    real x1[TF], x2[TF], x3[TF], yd[2];
    int32_t y;
    uint64_t key = ssm_augment_key(9, 2, 0);
    ck_assert_msg(ssm_audio_clip_features(&o, 0, key, x1, &y, yd, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(y, 0);
    ck_assert(fabs(yd[0] + yd[1] - 1) < 1e-6);
    ssm_audio_choice ch = ssm_audio_aug_choose(&o.aug, key, 1);
    // the partner: ids[pick] with lambda on this clip's class
    int64_t partner = (int64_t)(ch.mix_pick * 2);
    ck_assert(fabs(yd[0] - (partner == 0 ? 1 : ch.lambda)) < 1e-6);
    ck_assert_int_eq(ssm_audio_clip_features(&o, 0, key, x2, &y, yd, &e), SSM_OK);
    ck_assert(memcmp(x1, x2, sizeof x1) == 0);
    ck_assert_int_eq(ssm_audio_clip_features(&o, 0, ssm_augment_key(9, 3, 0), x3, &y, yd, &e),
                     SSM_OK);
    ck_assert(memcmp(x1, x3, sizeof x1) != 0);
    // evaluation: no draw at all, so any key gives the same x; the 0.75 s clip is padded with
    // log-mel 0, i.e. (0 - mean) / (2 std) after normalisation
    o.train = 0;
    ck_assert_int_eq(ssm_audio_clip_features(&o, 1, 1, x1, &y, yd, &e), SSM_OK);
    ck_assert_int_eq(ssm_audio_clip_features(&o, 1, 2, x2, &y, yd, &e), SSM_OK);
    ck_assert(memcmp(x1, x2, sizeof x1) == 0);
    ck_assert(yd[1] == 1 && yd[0] == 0);
    int64_t frames = ssm_fbank_num_frames(fb, 12000); // 73 > 64: cut at the start, no padding
    ck_assert_int_eq(frames, 73);
    o.target_frames = 100; // now padded: frames 73..99 hold the normalised 0
    real *xp = malloc(sizeof(real) * 100 * 40);
    ck_assert_int_eq(ssm_audio_clip_features(&o, 1, 2, xp, &y, NULL, &e), SSM_OK);
    for (int i = 73 * 40; i < 100 * 40; i++)
        ck_assert(xp[i] == (real)(5 / 8.0));
    free(xp);
    // AST's statistics: the mean over clips of each clip's mean and sample std of its padded,
    // unaugmented, unnormalised x
    o.train = 1; // ssm_audio_stats must switch both off itself
    o.target_frames = 80;
    double mean, sd, want_m = 0, want_s = 0;
    ck_assert_int_eq(ssm_audio_stats(&o, ids, 2, 0, &mean, &sd, &e), SSM_OK);
    ssm_audio_source_opts plain = o;
    plain.train = 0;
    plain.normalize = 0;
    real *xs = malloc(sizeof(real) * 80 * 40);
    for (int c = 0; c < 2; c++) {
        ck_assert_int_eq(ssm_audio_clip_features(&plain, c, 0, xs, NULL, NULL, &e), SSM_OK);
        double s1 = 0, s2 = 0;
        for (int i = 0; i < 80 * 40; i++)
            s1 += xs[i];
        for (int i = 0; i < 80 * 40; i++)
            s2 += (xs[i] - s1 / 3200) * (xs[i] - s1 / 3200);
        want_m += s1 / 3200 / 2;
        want_s += sqrt(s2 / 3199) / 2;
    }
    free(xs);
    ck_assert_msg(fabs(mean - want_m) < 1e-9 && fabs(sd - want_s) < 1e-9, "%g %g vs %g %g", mean, sd,
                  want_m, want_s);
    o.target_frames = 100;
    o.train = 0;
    // a bad file: the error names it
    FILE *f = fopen(p0, "w");
    fputs("not audio at all", f);
    fclose(f);
    ck_assert_int_ne(ssm_audio_clip_features(&o, 0, 1, x1, &y, NULL, &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, p0) != NULL, "%s", e.msg);
    ssm_fbank_free(fb);
    ck_assert_int_eq(tu_rmtree(dir), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("audio_augment");
    TCase *tc = tcase_create("audio_augment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, choices_are_pure_functions_of_the_key);
    tcase_add_test(tc, specaug_masks_by_hand_and_their_statistics);
    tcase_add_test(tc, mixup_lambda_is_beta_10_10);
    tcase_add_test(tc, shift_roll_gain_mix_noise);
    tcase_add_test(tc, source_is_deterministic_and_soft_labels_sum_to_one);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
