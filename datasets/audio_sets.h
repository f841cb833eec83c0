// defines: ssm_audio_set, ssm_audio_clip, ssm_audio_split, ssm_audio_labels,
//          ssm_audio_set_speech_commands, ssm_audio_set_esc50, ssm_audio_set_folder,
//          ssm_audio_set_free, ssm_audio_set_ids, ssm_audio_list_files, ssm_audio_paths_free,
//          SSM_SC12_WORDS, SSM_AUDIO_NOISE_DIR
// The standard on-disk layouts of audio classification sets, read into one list of clips
// (file, class, split); the audio is read later, one clip at a time, by the sample source
// (datasets/audio_source.h).
//
//   Speech Commands v2  <dir>/<word>/<speaker>_nohash_<k>.wav, <dir>/validation_list.txt
//                       and <dir>/testing_list.txt ("word/file.wav" per line) define the
//                       validation and test clips, every other clip is training;
//                       <dir>/_background_noise_/*.wav is noise, not a class (nor is any
//                       folder starting with '_' or '.'). Two protocols:
//                         all        every word folder is a class (35 words in v2: AST, AuM)
//                         keywords12 yes no up down left right on off stop go, _silence_,
//                                    _unknown_ (the TF recipe, Warden 2018): the other words
//                                    are _unknown_, subsampled per split to 10% of the split's
//                                    keyword clips (seeded); _silence_ is 10% more clips cut
//                                    from the background noise (path NULL; the source makes
//                                    them)
//   ESC-50              <dir>/audio/*.wav, <dir>/meta/esc50.csv (filename, fold, target,
//                       category, ...): 50 classes named by category in target order; the
//                       test split is one fold (1..5), the rest is training
//   a folder per class  <dir>/<class>/*.{wav,flac,ogg} (classes = sorted folder names); with
//                       <dir>/train/ and <dir>/test/ (and optionally <dir>/val/) holding the
//                       class folders, those are the splits; else every clip is training
//                       and the recipe holds some out (datasets/audio_data.h)
// Errors name the file and line at fault: a missing list or CSV, a list entry naming no
// clip, a CSV row with a bad fold or target, a class folder without audio.
#pragma once
#include <stdint.h>

#include "core/error.h"

#define SSM_AUDIO_NOISE_DIR "_background_noise_"

typedef enum { SSM_AUDIO_TRAIN = 0, SSM_AUDIO_VAL, SSM_AUDIO_TEST } ssm_audio_split;
typedef enum { SSM_AUDIO_LABELS_ALL = 0, SSM_AUDIO_LABELS_KEYWORDS12 } ssm_audio_labels;

// The ten keywords of the 12-class protocol, in class order (then _silence_, _unknown_).
extern const char *const SSM_SC12_WORDS[10];

typedef struct {
    char *path;        // the file, or NULL for a _silence_ clip cut from the noise
    int32_t label;     // class in [0, num_classes)
    int8_t split;      // ssm_audio_split
    int8_t fold;       // ESC-50's fold 1..5, else 0
} ssm_audio_clip;

typedef struct {
    int64_t n;
    ssm_audio_clip *clips;        // [n], sorted by path within each split
    int32_t num_classes;
    char **class_names;           // [num_classes]
    int64_t n_noise;
    char **noise_paths;           // [n_noise] background noise files (may be 0)
    int has_splits;               // the layout says which clips are validation and test
    char dir[512];
    // Multi-label sets (AST/AuM JSON manifests, datasets/audio_manifest.h), else NULL: clip
    // i's classes are label_idx[label_off[i] .. label_off[i + 1]) (clips[i].label, the first)
    int64_t *label_off;           // [n + 1]
    int32_t *label_idx;           // [label_off[n]]
} ssm_audio_set;

ssm_code ssm_audio_set_speech_commands(ssm_audio_set *s, const char *dir, ssm_audio_labels labels,
                                       uint64_t seed, ssm_error *err);
// test_fold in 1..5 (the recipe maps data.fold 0..4 to it).
ssm_code ssm_audio_set_esc50(ssm_audio_set *s, const char *dir, int test_fold, ssm_error *err);
ssm_code ssm_audio_set_folder(ssm_audio_set *s, const char *dir, ssm_error *err);
void ssm_audio_set_free(ssm_audio_set *s);

// The ids of one split (malloc'd, ascending; caller frees; *n may be 0 with a non-NULL array).
ssm_code ssm_audio_set_ids(const ssm_audio_set *s, ssm_audio_split split, int64_t **ids,
                           int64_t *n, ssm_error *err);

// The audio files of one folder (.wav, .flac, .ogg; sorted full paths, e.g. a noise folder).
// A folder without any is an error naming it.
ssm_code ssm_audio_list_files(const char *dir, char ***paths, int64_t *n, ssm_error *err);
void ssm_audio_paths_free(char **paths, int64_t n);
