// defines: ssm_audio_set_manifests, ssm_audio_label_csv, ssm_audio_label_csv_read,
//          ssm_audio_label_csv_free
// The multi-label layout of AST, Audio Mamba, SSAMBA and DASS (AudioSet, VGGSound, FSD50K
// as those repositories prepare them): a JSON manifest per split
//
//   {"data": [{"wav": "/data/audioset/Y--PJHxphWEs.wav", "labels": "/m/09x0r,/t/dd00088"},
//             ...]}
//
// and the classes in class_labels_indices.csv (`index,mid,display_name`, a header line,
// display names quoted when they hold a comma: `2,/m/05zppz,"Male speech, man speaking"`).
// Each entry is one clip with one or more classes named by their mid; a relative "wav" is
// under the manifest's own folder. Other keys of an entry are ignored. JSON is parsed by
// cJSON (Debian's libcjson: small, well kept, the manifests are plain arrays).
// Errors name the file and what is wrong in it: the manifest and the entry index (from 0)
// for a missing "wav" or "labels", an unknown mid or a clip that cannot be read, the JSON
// line of a syntax error, the CSV line of a bad row.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "datasets/audio_sets.h"

// class_labels_indices.csv, rows in index order.
typedef struct {
    int32_t n;
    char **mid;          // [n] "/m/09x0r"
    char **display_name; // [n] "Speech"
} ssm_audio_label_csv;

ssm_code ssm_audio_label_csv_read(ssm_audio_label_csv *c, const char *path, ssm_error *err);
void ssm_audio_label_csv_free(ssm_audio_label_csv *c);

// A multi-label set (s->label_off / label_idx, audio_sets.h) from the training manifest and
// optional validation and test manifests (NULL or "": none; that split is empty), with the
// classes of label_csv (class names: the display names). Clips keep the manifests' order,
// training first. Every listed clip must be a readable file (checked here, so that a
// missing one is reported before training, naming its manifest and entry).
ssm_code ssm_audio_set_manifests(ssm_audio_set *s, const char *train, const char *val,
                                 const char *test, const char *label_csv, ssm_error *err);
