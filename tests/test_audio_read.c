// Check suite: datasets/audio_read: every format and bit depth written here
// with libsndfile and read back (stereo averaged to mono, exact values), the
// soxr resampler (lengths, a tone kept in place, aliasing removed), bad files
// (missing, empty, text renamed .wav, cut-short WAV/FLAC/Ogg, no frames, NaN
// samples) refused with the file named, and the real recordings of Debian's
// asterisk-core-sounds-en-wav, sound-icons and alsa-utils when installed.
#include <check.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/audio_read.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#define LSAN_OFF() __lsan_disable()
#define LSAN_ON() __lsan_enable()
#else
#define LSAN_OFF() ((void)0)
#define LSAN_ON() ((void)0)
#endif

static char g_dir[256];

static void make_dir(void) { ck_assert_int_eq(tu_mkdtemp(g_dir, sizeof g_dir, "ssm_audio"), 0); }
static void remove_dir(void) { tu_rmtree(g_dir); }
static void path_in(char *out, size_t cap, const char *name) { tu_path(out, cap, g_dir, name); }

// A 16-bit-exact stereo test signal: left = a 440 Hz tone, right = a 1 kHz
// tone at half amplitude, both multiples of 2^16 as int32 so that every
// format from 16 bits up stores them exactly (8 bits truncates).
#define SIG_RATE 16000
#define SIG_N 4000
static int32_t sig_l(int i) { return (int32_t)lrint(20000.0 * sin(2 * M_PI * 440.0 * i / SIG_RATE)) * 65536; }
static int32_t sig_r(int i) { return (int32_t)lrint(9000.0 * sin(2 * M_PI * 1000.0 * i / SIG_RATE)) * 65536; }

static void write_signal(const char *path, int format, int channels, int frames) {
    SF_INFO info = {0};
    info.samplerate = SIG_RATE;
    info.channels = channels;
    info.format = format;
    ck_assert_msg(sf_format_check(&info), "libsndfile cannot write format 0x%x", format);
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s: %s", path, sf_strerror(NULL));
    int32_t *buf = malloc((size_t)(frames > 0 ? frames : 1) * channels * sizeof *buf);
    for (int i = 0; i < frames; i++) {
        buf[i * channels] = sig_l(i);
        if (channels == 2)
            buf[i * channels + 1] = sig_r(i);
    }
    if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT) {
        // libsndfile stores ints into a float file unscaled: hand it floats
        float *fl = malloc((size_t)(frames > 0 ? frames : 1) * channels * sizeof *fl);
        for (int i = 0; i < frames * channels; i++)
            fl[i] = (float)(buf[i] / 2147483648.0);
        ck_assert_int_eq(sf_writef_float(f, fl, frames), frames);
        free(fl);
    } else {
        ck_assert_int_eq(sf_writef_int(f, buf, frames), frames);
    }
    free(buf);
    ck_assert_int_eq(sf_close(f), 0);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

// copies the first frac of src's bytes to dst
static void truncate_copy(const char *src, const char *dst, double frac) {
    FILE *a = fopen(src, "rb");
    ck_assert_ptr_nonnull(a);
    fseek(a, 0, SEEK_END);
    long n = ftell(a);
    rewind(a);
    char *b = malloc((size_t)n);
    ck_assert_int_eq((long)fread(b, 1, (size_t)n, a), n);
    fclose(a);
    FILE *o = fopen(dst, "wb");
    ck_assert_ptr_nonnull(o);
    fwrite(b, 1, (size_t)(n * frac), o);
    fclose(o);
    free(b);
}

// reads `path`, expecting failure with a message naming the file and holding `what`
static void expect_refused(const char *path, int target, const char *what) {
    ssm_audio a;
    ssm_error e = {0};
    ssm_code rc = ssm_audio_read(path, target, &a, &e);
    ck_assert_msg(rc != SSM_OK, "%s: read although it should be refused (%s)", path, what);
    ck_assert_msg(strstr(e.msg, path) != NULL, "message does not name the file: %s", e.msg);
    ck_assert_msg(strstr(e.msg, what) != NULL, "message lacks '%s': %s", what, e.msg);
    ck_assert_ptr_null(a.samples);
    printf("refused as expected: %s\n", e.msg);
}

START_TEST(formats_read_back_exactly_as_mono) {
    make_dir();
    struct {
        const char *name;
        int format;
        double tol; // the format's quantisation (8 bits truncates the signal)
    } cases[] = {
        {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1.0 / 128},
        {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1e-7},
        {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1e-7},
        {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1e-7},
        {"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1e-7},
        {"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1e-7},
        {"s24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 1e-7},
        {"s8.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_S8, 1.0 / 128},
    };
    char path[256];
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (int ch = 1; ch <= 2; ch++) {
            path_in(path, sizeof path, cases[c].name);
            write_signal(path, cases[c].format, ch, SIG_N);
            ssm_audio a;
            ssm_error e = {0};
            ck_assert_msg(ssm_audio_read(path, 0, &a, &e) == SSM_OK, "%s", e.msg);
            ck_assert_int_eq(a.n, SIG_N);
            ck_assert_int_eq(a.sample_rate, SIG_RATE);
            ck_assert_int_eq(a.file_rate, SIG_RATE);
            ck_assert_int_eq(a.file_channels, ch);
            double worst = 0;
            for (int i = 0; i < SIG_N; i++) {
                double l = sig_l(i) / 2147483648.0, r = sig_r(i) / 2147483648.0;
                double want = ch == 1 ? l : 0.5 * (l + r);
                worst = fmax(worst, fabs(a.samples[i] - want));
            }
            ck_assert_msg(worst <= cases[c].tol, "%s, %d channels: worst error %g > %g",
                          cases[c].name, ch, worst, cases[c].tol);
            ssm_audio_free(&a);
        }
    }
    // Ogg/Vorbis is lossy: the same length and the waveform within 20 dB SNR
    // (30.5 dB with Debian 12's libvorbis)
    path_in(path, sizeof path, "v.ogg");
    write_signal(path, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 2, SIG_N);
    ssm_audio a;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_read(path, 0, &a, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(a.n, SIG_N);
    ck_assert_int_eq(a.file_channels, 2);
    double sig = 0, noise = 0;
    for (int i = 0; i < SIG_N; i++) {
        double want = 0.5 * (sig_l(i) + sig_r(i)) / 2147483648.0;
        sig += want * want;
        noise += (a.samples[i] - want) * (a.samples[i] - want);
    }
    double snr = 10 * log10(sig / noise);
    printf("ogg/vorbis round trip: SNR %.1f dB\n", snr);
    ck_assert_msg(snr > 20, "vorbis SNR %.1f dB", snr);
    ssm_audio_free(&a);
    remove_dir();
}
END_TEST

// max |y[i] - A sin(2 pi f i / rate)| over the middle of y (soxr's filter
// settles within a few ms of each end)
static double tone_error(const float *y, int64_t n, double A, double f, double rate) {
    double worst = 0;
    for (int64_t i = n / 10; i < n - n / 10; i++)
        worst = fmax(worst, fabs(y[i] - A * sin(2 * M_PI * f * i / rate)));
    return worst;
}

START_TEST(resampler_keeps_tones_and_removes_aliases) {
    const int64_t n = 8000;
    float *x = malloc(n * sizeof *x);
    float *y;
    int64_t m;
    ssm_error e = {0};
    // 440 Hz at 8 kHz -> 16 kHz: same tone, same phase (linear phase, delay removed)
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 440.0 * i / 8000.0));
    ck_assert_msg(ssm_audio_resample(x, n, 8000, 16000, &y, &m, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(m, 2 * n);
    double err = tone_error(y, m, 0.5, 440.0, 16000.0);
    printf("8k -> 16k, 440 Hz tone: max error %.2e\n", err);
    ck_assert_double_lt(err, 1e-3);
    free(y);
    // 44.1 kHz -> 16 kHz: round(n * 16000 / 44100) samples, the tone kept
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * i / 44100.0));
    ck_assert_msg(ssm_audio_resample(x, n, 44100, 16000, &y, &m, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(m, (n * 16000 + 22050) / 44100);
    err = tone_error(y, m, 0.5, 1000.0, 16000.0);
    printf("44.1k -> 16k, 1 kHz tone: max error %.2e\n", err);
    ck_assert_double_lt(err, 1e-3);
    free(y);
    // 16 kHz -> 8 kHz: a 6 kHz tone is above the new Nyquist: filtered out,
    // not folded down to 2 kHz (a naive decimator keeps all of it)
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * M_PI * 6000.0 * i / 16000.0));
    ck_assert_msg(ssm_audio_resample(x, n, 16000, 8000, &y, &m, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(m, n / 2);
    double p = 0;
    for (int64_t i = m / 10; i < m - m / 10; i++)
        p += (double)y[i] * y[i];
    double db = 10 * log10(p / (0.8 * m) / 0.125 + 1e-30);
    printf("16k -> 8k, 6 kHz tone: %.1f dB left\n", db);
    ck_assert_double_lt(db, -80);
    free(y);
    // same rate: a copy; bad rates refused
    ck_assert_int_eq(ssm_audio_resample(x, n, 16000, 16000, &y, &m, &e), SSM_OK);
    ck_assert_int_eq(m, n);
    ck_assert_int_eq(memcmp(x, y, n * sizeof *x), 0);
    free(y);
    ck_assert_int_eq(ssm_audio_resample(x, n, 0, 16000, &y, &m, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "expected rates > 0"));
    free(x);
}
END_TEST

START_TEST(read_resamples_to_the_target_rate) {
    make_dir();
    char path[256];
    path_in(path, sizeof path, "tone.wav");
    write_signal(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, SIG_N);
    ssm_audio a;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_read(path, 8000, &a, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(a.n, SIG_N / 2);
    ck_assert_int_eq(a.sample_rate, 8000);
    ck_assert_int_eq(a.file_rate, SIG_RATE);
    ck_assert_int_eq(a.file_frames, SIG_N);
    double err = tone_error(a.samples, a.n, 20000.0 / 32768, 440.0, 8000.0);
    ck_assert_msg(err < 1e-3, "440 Hz after 16k -> 8k: error %g", err);
    ssm_audio_free(&a);
    ck_assert_ptr_null(a.samples);
    remove_dir();
}
END_TEST

START_TEST(bad_files_are_refused_naming_the_file) {
    make_dir();
    char path[256], src[256];
    path_in(path, sizeof path, "missing.wav");
    expect_refused(path, 16000, "cannot open");

    path_in(path, sizeof path, "empty.wav");
    write_text(path, "");
    expect_refused(path, 16000, "empty file");

    path_in(path, sizeof path, "notes.wav");
    write_text(path, "this is a text file that someone renamed to .wav\n");
    expect_refused(path, 16000, "not readable as audio");

    expect_refused(g_dir, 16000, "not a regular file");

    path_in(path, sizeof path, "noframes.wav");
    write_signal(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 0);
    expect_refused(path, 16000, "no audio samples");

    // cut inside the data: libsndfile alone would read the half that is left
    path_in(src, sizeof src, "whole.wav");
    path_in(path, sizeof path, "cut.wav");
    write_signal(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2, SIG_N);
    truncate_copy(src, path, 0.5);
    expect_refused(path, 16000, "cut short");
    // cut inside the header
    truncate_copy(src, path, 0.002);
    expect_refused(path, 16000, "not readable as audio");

    path_in(src, sizeof src, "whole.flac");
    path_in(path, sizeof path, "cut.flac");
    write_signal(src, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 2, SIG_N * 4);
    truncate_copy(src, path, 0.5);
    expect_refused(path, 16000, "cut short");

    path_in(src, sizeof src, "whole.ogg");
    path_in(path, sizeof path, "cut.ogg");
    write_signal(src, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 1, SIG_N * 8);
    truncate_copy(src, path, 0.5);
    {
        ssm_audio a;
        ssm_error e = {0};
        // libvorbis leaks its vorbis_info (5784 bytes) when libsndfile's
        // open of a malformed stream fails (xiph/vorbis issue 125): not ours
        // to free, so LeakSanitizer is told to look away for this one call.
        LSAN_OFF();
        ssm_code rc = ssm_audio_read(path, 0, &a, &e);
        LSAN_ON();
        ck_assert_int_ne(rc, SSM_OK);
        ck_assert_msg(strstr(e.msg, path) != NULL, "%s", e.msg);
        printf("refused as expected: %s\n", e.msg);
    }

    // a float WAV holding a NaN
    path_in(path, sizeof path, "nan.wav");
    {
        SF_INFO info = {0};
        info.samplerate = 16000;
        info.channels = 1;
        info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        SNDFILE *f = sf_open(path, SFM_WRITE, &info);
        ck_assert_ptr_nonnull(f);
        float v[1000] = {0};
        v[700] = NAN;
        ck_assert_int_eq(sf_writef_float(f, v, 1000), 1000);
        sf_close(f);
    }
    expect_refused(path, 0, "frame 700 is NaN");
    // a streamed WAV (data size 0xFFFFFFFF: the writer could not seek back) is not "cut short"
    path_in(src, sizeof src, "streamed.wav");
    write_signal(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, SIG_N);
    {
        FILE *f = fopen(src, "r+b");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fseek(f, 40, SEEK_SET), 0); // the data chunk's size (44-byte header)
        unsigned char ff[4] = {0xFF, 0xFF, 0xFF, 0xFF};
        ck_assert_int_eq(fwrite(ff, 1, 4, f), 4);
        fclose(f);
        ssm_audio a;
        ssm_error e = {0};
        ck_assert_msg(ssm_audio_read(src, 0, &a, &e) == SSM_OK, "%s", e.msg);
        ck_assert_int_eq(a.n, SIG_N);
        ssm_audio_free(&a);
    }
    remove_dir();
}
END_TEST

// The int16 samples of a plain PCM WAV's data chunk, parsed by hand: an
// independent check of what libsndfile hands back.
static int16_t *wav_s16(const char *path, int64_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char h[12];
    ck_assert_int_eq(fread(h, 1, 12, f), 12);
    ck_assert_int_eq(memcmp(h, "RIFF", 4), 0);
    for (;;) {
        unsigned char c[8];
        ck_assert_int_eq(fread(c, 1, 8, f), 8);
        uint32_t size = c[4] | c[5] << 8 | c[6] << 16 | (uint32_t)c[7] << 24;
        if (memcmp(c, "data", 4) == 0) {
            *n = size / 2;
            int16_t *s = malloc(size);
            ck_assert_int_eq(fread(s, 1, size, f), size);
            fclose(f);
            return s; // little-endian host (x86-64, arm64)
        }
        fseek(f, size + (size & 1), SEEK_CUR);
    }
}

START_TEST(real_recordings_if_installed) {
    const char *digit = "/usr/share/asterisk/sounds/en_US_f_Allison/digits/7.wav";
    const char *icon = "/usr/share/sounds/sound-icons/cembalo-1.wav";
    const char *alsa = "/usr/share/sounds/alsa/Front_Center.wav";
    const char *files[] = {digit, icon, alsa};
    const char *pkgs[] = {"asterisk-core-sounds-en-wav", "sound-icons", "alsa-utils"};
    for (int k = 0; k < 3; k++) {
        if (access(files[k], R_OK) != 0) {
            printf("skipped: %s is not installed (Debian package %s)\n", files[k], pkgs[k]);
            continue;
        }
        ssm_audio a, b;
        ssm_error e = {0};
        ck_assert_msg(ssm_audio_read(files[k], 0, &a, &e) == SSM_OK, "%s", e.msg);
        int64_t n;
        int16_t *raw = wav_s16(files[k], &n);
        ck_assert_int_eq(a.n, n);
        ck_assert_int_eq(a.file_channels, 1);
        double energy = 0;
        for (int64_t i = 0; i < n; i++) {
            ck_assert_msg(a.samples[i] == raw[i] / 32768.0f, "%s sample %ld", files[k], (long)i);
            energy += (double)a.samples[i] * a.samples[i];
        }
        free(raw);
        // resampled to 16 kHz: the length follows the rates, the energy per
        // second is kept (these recordings have little above 7 kHz)
        ck_assert_msg(ssm_audio_read(files[k], 16000, &b, &e) == SSM_OK, "%s", e.msg);
        ck_assert_int_eq(b.n, (a.n * 16000 + a.file_rate / 2) / a.file_rate);
        double energy16 = 0;
        for (int64_t i = 0; i < b.n; i++)
            energy16 += (double)b.samples[i] * b.samples[i];
        double ratio = (energy16 / 16000.0) / (energy / a.file_rate);
        printf("%s: %d Hz, %ld samples -> %ld at 16 kHz, power ratio %.4f\n", files[k],
               a.file_rate, (long)a.n, (long)b.n, ratio);
        ck_assert_double_gt(ratio, 0.9);
        ck_assert_double_lt(ratio, 1.02);
        ssm_audio_free(&a);
        ssm_audio_free(&b);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("audio_read");
    TCase *tc = tcase_create("audio_read");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, formats_read_back_exactly_as_mono);
    tcase_add_test(tc, resampler_keeps_tones_and_removes_aliases);
    tcase_add_test(tc, read_resamples_to_the_target_rate);
    tcase_add_test(tc, bad_files_are_refused_naming_the_file);
    tcase_add_test(tc, real_recordings_if_installed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
