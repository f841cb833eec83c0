// defines: ssm_fbank_window, ssm_fbank_opts, ssm_fbank_opts_default, ssm_fbank,
//          ssm_fbank_create, ssm_fbank_free, ssm_fbank_num_frames, ssm_fbank_num_bins,
//          ssm_fbank_window_size, ssm_fbank_fft_size, ssm_fbank_compute,
//          ssm_fbank_window_name, ssm_fbank_window_parse
// Kaldi log-mel filterbank features with torchaudio.compliance.kaldi.fbank's
// semantics, as AST, AuM, SSAMBA and DASS compute them:
//   kaldi.fbank(wave - wave.mean(), htk_compat=True, sample_frequency=sr,
//               use_energy=False, window_type='hanning', num_mel_bins=128,
//               dither=0.0, frame_shift=10)
// Per frame: the samples (snip_edges framing), minus the frame's mean,
// pre-emphasis x[i] - 0.97 x[i-1] (x[-1] = x[0]), the window, zero padding to
// the FFT size, |rfft|^2, triangular mel filters on the 1127 ln(1 + f/700)
// scale (the Nyquist bin weighs 0), log(max(., FLT_EPSILON)). Computed in
// double (fbank.c says why), with torch's float32 mel weights; matches
// torchaudio to 1e-3 in log-mel units (tests/test_fbank.c on the golden
// fixtures of tests/fbank_golden.py). Not supported: dither (random; AST uses
// 0), the energy column (use_energy; AST leaves it off), VTLN warping.
#pragma once
#include <stdint.h>

#include "core/error.h"

typedef enum {
    SSM_FBANK_HANNING = 0, // symmetric Hann: 0.5 - 0.5 cos(2 pi i / (N - 1)) (AST, AuM)
    SSM_FBANK_POVEY,       // Hann^0.85: Kaldi's default
    SSM_FBANK_HAMMING,     // 0.54 - 0.46 cos(2 pi i / (N - 1))
    SSM_FBANK_RECTANGULAR,
    SSM_FBANK_BLACKMAN,    // c - 0.5 cos(a i) + (0.5 - c) cos(2 a i), a = 2 pi / (N - 1)
} ssm_fbank_window;

// Every option of the front end; ssm_fbank_opts_default gives the defaults
// written here (AST's), which are also the config keys' defaults.
typedef struct {
    double sample_rate;        // 16000 Hz: the rate of the samples handed in
    double frame_length_ms;    // 25 ms (400 samples at 16 kHz)
    double frame_shift_ms;     // 10 ms (160)
    int round_to_power_of_two; // 1: FFT size = the next power of two >= the window (512)
    int remove_dc_clip;        // 1: subtract the clip's mean first (AST: wave - wave.mean())
    int remove_dc_offset;      // 1: subtract each frame's mean
    double preemphasis;        // 0.97, in [0, 1]; 0 = off
    ssm_fbank_window window;   // hanning
    double blackman_coeff;     // 0.42 (blackman only)
    int num_mel_bins;          // 128, > 3
    double low_freq;           // 20 Hz, in [0, Nyquist)
    double high_freq;          // 0 = Nyquist; < 0: that far below Nyquist
    int use_power;             // 1: power spectrum; 0: magnitude
    int use_log;               // 1: log(max(energy, log_floor)); 0: the energies
    double log_floor;          // FLT_EPSILON (1.1920929e-07)
    int snip_edges;            // 1: 1 + (N - window) / shift frames, all inside the clip;
                               // 0: (N + shift / 2) / shift frames, edges mirrored (Kaldi)
    int subtract_mean;         // 0; 1: subtract each bin's mean over the clip's frames
} ssm_fbank_opts;

void ssm_fbank_opts_default(ssm_fbank_opts *o);

// The filterbank for one set of options: window, mel weights, FFT plan.
// Read-only once created, so one serves every prefetch worker at once.
typedef struct ssm_fbank ssm_fbank;

// Checks the options (errors name the option and the allowed range) and
// builds the filterbank.
ssm_code ssm_fbank_create(ssm_fbank **out, const ssm_fbank_opts *o, ssm_error *err);
void ssm_fbank_free(ssm_fbank *fb);

// Frames for a clip of n samples (0 when n is shorter than one window).
int64_t ssm_fbank_num_frames(const ssm_fbank *fb, int64_t n);
int ssm_fbank_num_bins(const ssm_fbank *fb);
int ssm_fbank_window_size(const ssm_fbank *fb); // samples per frame (400)
int ssm_fbank_fft_size(const ssm_fbank *fb);    // after rounding (512)

// out [num_frames(n), num_bins] row-major (time-major, like torchaudio) =
// the features of wave [n]. A clip shorter than one window is refused
// (SSM_EDATA; torchaudio refuses it too): pad the waveform first if short
// clips are expected. Thread-safe for distinct out.
ssm_code ssm_fbank_compute(const ssm_fbank *fb, const float *wave, int64_t n, float *out,
                           ssm_error *err);

// "hanning", "povey", "hamming", "rectangular", "blackman" (torchaudio's names).
const char *ssm_fbank_window_name(ssm_fbank_window w);
ssm_code ssm_fbank_window_parse(const char *name, ssm_fbank_window *w, ssm_error *err);
