// defines: ssm_audio_aug, ssm_audio_choice, ssm_audio_aug_choose, ssm_audio_key_unit,
//          ssm_audio_beta, ssm_audio_shift, ssm_audio_gain, ssm_audio_add_noise,
//          ssm_audio_mix, ssm_specaug_mask, ssm_audio_fit_frames
// Audio augmentation (training only) and the small clip operations it is made of. Every
// random choice is a pure function of the sample's key (ssm_augment_key(seed, epoch, id),
// datasets/augment.h), drawn by ssm_audio_aug_choose, so a batch never depends on thread
// timing, prefetching or where a run was resumed. The order a source applies them in
// (datasets/audio_source.c), as AST's dataloader and the TF Speech Commands recipe do:
//   waveform: mixup with a second clip (AST: both zero-mean, lambda ~ Beta(10, 10), mixed,
//             mean removed again) -> time shift or roll -> gain -> background noise at a
//             random SNR
//   fbank   : crop or pad to the target frames -> SpecAugment frequency and time masks
//             (torchaudio's FrequencyMasking / TimeMasking, masked cells 0, before the
//             normalisation, as AST) -> (x - mean) / (2 std)
#pragma once
#include <stdint.h>

#include "core/real.h"

#define SSM_AUDIO_MAX_MASKS 4

typedef struct {
    int64_t freq_mask;    // torchaudio freq_mask_param: widths uniform in [0, freq_mask) bins; 0 off
    int64_t time_mask;    // time_mask_param: widths in [0, time_mask) frames; 0 off
    int n_masks;          // masks of each kind (AST: 1; SpecAugment LD: 2), <= SSM_AUDIO_MAX_MASKS
    double shift;         // max |time shift| as a fraction of the clip (0.1 = +-10%); 0 off
    int roll;             // 1: the shift rolls the clip around (AST's roll); 0: zero fill (TF)
    double gain_db;       // gain uniform in [-gain_db, +gain_db] dB; 0 off
    double noise_p;       // probability of adding background noise; 0 off
    double snr_min, snr_max; // its signal-to-noise ratio, uniform in dB
    double mixup_p;       // probability of mixing in a second clip (AST: 0.5); 0 off
    double mixup_alpha;   // lambda ~ Beta(alpha, alpha) (AST: 10)
} ssm_audio_aug;

// The random choices for one sample. Fractions in [0, 1) are scaled by the caller to the
// clip's own lengths (crop offsets, noise offsets), so the choice does not need them.
typedef struct {
    double crop;          // where a longer clip is cut: frame offset = crop * (frames - target)
    double shift;         // signed fraction of the clip, in [-aug.shift, aug.shift]
    double gain;          // linear factor
    int noise;            // add noise?
    double noise_pick, noise_offset, snr_db; // which file (fraction of the list), where, how loud
    int mix;              // mix in a second clip?
    double mix_pick;      // which clip (fraction of the training list)
    double lambda;        // weight of this clip, 1 - lambda of the other
    double fmask[SSM_AUDIO_MAX_MASKS][2], tmask[SSM_AUDIO_MAX_MASKS][2]; // torchaudio's two draws
} ssm_audio_choice;

// A uniform double in [0, 1) from 53 bits of draw i of the key.
double ssm_audio_key_unit(uint64_t key, uint64_t i);
// Beta(a, a) from the key's draws starting at stream `i` (Marsaglia-Tsang gamma variates).
double ssm_audio_beta(uint64_t key, uint64_t i, double a);

// Every choice, drawn from the key; train = 0 gives the identity choice (crop at the
// start, no shift, gain 1, no noise, no mix, no masks).
ssm_audio_choice ssm_audio_aug_choose(const ssm_audio_aug *a, uint64_t key, int train);

// wave [n] moved by `shift` samples (> 0: later): rolled around, or with zeros coming in.
void ssm_audio_shift(float *wave, int64_t n, int64_t shift, int roll, float *scratch);
void ssm_audio_gain(float *wave, int64_t n, double gain);
// wave += g * noise[(offset + i) % n_noise] with g giving wave's power / noise's = 10^(snr/10)
// over the segment used. A silent wave (RMS < 1e-5) counts as one of RMS 0.05 (speech at
// about -26 dBFS), so a silence clip gets noise at the level it would have under speech.
// Returns g (0 for a silent noise segment).
double ssm_audio_add_noise(float *wave, int64_t n, const float *noise, int64_t n_noise,
                           int64_t offset, double snr_db);
// AST's waveform mixup: a and b [n] made zero-mean, a = lambda a + (1 - lambda) b, mean removed.
void ssm_audio_mix(float *a, const float *b, int64_t n, double lambda);

// torchaudio's mask_along_axis on x [T, F] (frames x bins): value = u1 * param, start =
// floor(u2 * (size - value)), cells [start, start + floor(value)) of that axis set to 0.
// axis 0: time (frames), 1: frequency (bins). Returns the masked width.
int64_t ssm_specaug_mask(real *x, int64_t T, int64_t F, int axis, int64_t param, double u1,
                         double u2);

// out [target, F] = feats [frames, F] cut at frame `offset` or padded with `pad` rows at the
// end (AST pads with zeros before normalising).
void ssm_audio_fit_frames(real *out, const float *feats, int64_t frames, int64_t F,
                          int64_t target, int64_t offset, real pad);
