// defines: ssm_audio_noise, ssm_audio_noise_load, ssm_audio_noise_free,
//          ssm_audio_source_opts, ssm_audio_source, ssm_audio_clip_features,
//          ssm_audio_stats
// The sample source of an audio set (datasets/audio_sets.h) for the batcher: each get
// reads one clip (libsndfile, resampled by libsoxr to the model's rate: audio_read.h),
// augments the waveform (training), computes its Kaldi fbank (fbank.h), cuts or pads it to
// target_frames (train: a random crop of a longer clip; evaluation: its start), masks it
// (SpecAugment, training) and normalises it: x [target_frames, num_mel_bins] =
// (fbank - mean) / (2 std), AST's normalisation. y is the class; with mixup on, y_dense is
// the soft label [num_classes] (SSM_DENSE_PROBS: lambda on this clip's class, 1 - lambda
// on the other's). A multi-label set (audio_sets.h's label_off: JSON manifests) always
// gives y_dense [num_classes], SSM_DENSE_MULTI_HOT: 1 at each of the clip's classes, or
// with mixup lambda * its multi-hot + (1 - lambda) * the partner's (AST), and y its first
// class. All of it runs in the batcher's get, so in the prefetch thread.
// _silence_ clips (audio_sets.h, keywords12) are one second of background noise at a
// volume uniform in [0, 0.1) of the file's (TF's recipe): drawn from the sample's key in
// training, fixed by the clip id in evaluation.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/audio_augment.h"
#include "datasets/audio_sets.h"
#include "datasets/batch.h"
#include "datasets/fbank.h"

// Background noise waveforms, read once at the model's rate (a few minutes of audio).
typedef struct {
    int64_t n;
    float **wave;    // [n][len[i]]
    int64_t *len;
} ssm_audio_noise;

// Reads the files (NULL / 0: an empty bank); every file must hold at least one second.
ssm_code ssm_audio_noise_load(ssm_audio_noise *nb, char *const *paths, int64_t n, int rate,
                              ssm_error *err);
void ssm_audio_noise_free(ssm_audio_noise *nb);

typedef struct {
    const ssm_audio_set *set;    // not copied: must outlive the batcher
    const ssm_fbank *fb;         // read-only, shared by every source
    const ssm_audio_noise *noise; // background noise for augmentation and silence (may be NULL)
    int sample_rate;
    int64_t target_frames;
    int train;                   // augment (aug), random crops
    ssm_audio_aug aug;
    const int64_t *mix_ids;      // the clips mixup draws its partner from (the training
    int64_t n_mix;               //   split), not copied
    int soft_labels;             // declare y_dense [num_classes] (mixup's soft labels;
                                 //   a multi-label set declares it always)
    int normalize;
    double mean, std;            // (x - mean) / (2 std)
} ssm_audio_source_opts;

// Takes nothing over: set, fb, noise and mix_ids must outlive the batcher.
ssm_code ssm_audio_source(ssm_sample_source *src, const ssm_audio_source_opts *o,
                          ssm_error *err);

// One clip's x [target_frames, bins] (and soft label, when y_dense), as get makes it.
// key: the sample's key (training draws). Thread-safe.
ssm_code ssm_audio_clip_features(const ssm_audio_source_opts *o, int64_t id, uint64_t key,
                                 real *x, int32_t *y, real *y_dense, ssm_error *err);

// AST's dataset statistics (its get_norm_stats.py): the mean over clips of each clip's mean
// and (sample) standard deviation of its padded, unaugmented, unnormalised x. Over at most
// max_clips of ids (evenly spaced; 0 = all), in parallel over clips.
ssm_code ssm_audio_stats(const ssm_audio_source_opts *o, const int64_t *ids, int64_t n,
                         int64_t max_clips, double *mean, double *std, ssm_error *err);
