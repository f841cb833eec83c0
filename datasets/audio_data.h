// defines: audio_data, audio_data_is_audio, audio_data_open, audio_data_close,
//          audio_data_fbank_opts, AUDIO_STATS_MAX_CLIPS
// The audio recipes behind `data.name: speech_commands | esc50 | audio_folder |
// audio_manifest`, the audio twin of image_data.h: from the config to train / val / test
// batchers of fixed-length log-mel clips x [data.target_frames, data.fbank.num_mel_bins]
// with class labels y (multi-label sets: y_dense, datasets/audio_source.h).
//
//   speech_commands  data.path: the Speech Commands v2 folder; its validation_list.txt and
//                    testing_list.txt are the splits (data.val_fraction does not apply);
//                    data.label_set all (35 words) or keywords12 (datasets/audio_sets.h)
//   esc50            data.path: the ESC-50 folder; the test split is the CSV's fold
//                    data.fold + 1 (so `ssmkit cv --folds 5` runs the five folds);
//                    data.val_fraction of the other folds (stratified, seeded) validates,
//                    or the test fold when it is 0 (as AST reports ESC-50)
//   audio_folder     data.path: a folder per class, or train/ (val/) test/ of them; without
//                    splits, data.val_fraction of the clips (stratified) validates and as
//                    many are the test split
//   audio_manifest   AST/AuM JSON manifests (datasets/audio_manifest.h), multi-label:
//                    data.train_manifest, data.val_manifest (empty: data.val_fraction of
//                    the training clips, seeded), data.test_manifest (empty: the
//                    validation clips), data.label_csv; relative paths under data.path
// Normalisation (data.augment.normalize): data.audio_mean / data.audio_std, or, when
// audio_std is 0, the statistics of the training clips (AST's way, over at most
// AUDIO_STATS_MAX_CLIPS of them, evenly spaced), logged so that a later run can set them.
// Augmentation (training only) from data.augment.*: SpecAugment masks, time shift or roll,
// gain, background noise (data.augment.noise_dir, or the set's _background_noise_), mixup
// (data.augment.mixup, mixup_alpha: the training batches carry the mixed labels in
// y_dense; evaluation batches the hard ones).
// data.limit keeps N training clips, evenly spaced over the sorted list (every class keeps
// some). Train batchers shuffle (data.shuffle) and
// drop the last partial batch; val and test keep every clip in order.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "datasets/audio_sets.h"
#include "datasets/audio_source.h"
#include "datasets/batch.h"
#include "datasets/fbank.h"

#define AUDIO_STATS_MAX_CLIPS 4000

typedef struct {
    ssm_audio_set set;
    ssm_fbank *fb;
    ssm_audio_noise noise;
    int64_t *ids[3];            // train, val, test clip ids
    int64_t n_ids[3];
    ssm_batcher train, val, test;
    int has_val;
    int64_t n_train, n_val, n_test;
    int64_t T, F;               // one sample x [T, F]
    int32_t num_classes;
    int sample_rate;
    double mean, std;           // the normalisation used
    int open;                   // which batchers exist (close frees them)
} audio_data;

// 1 when data.name is an audio recipe.
int audio_data_is_audio(const ssm_data_config *dc);

// The front end's options from data.sample_rate and data.fbank.*.
void audio_data_fbank_opts(ssm_fbank_opts *o, const ssm_data_config *dc);

// test_too = 0 skips the test split's batcher (training-only uses, check-grad). On error
// everything opened so far is closed again (*d is zeroed).
ssm_code audio_data_open(audio_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                         ssm_error *err);
void audio_data_close(audio_data *d);
