// defines: ssm_scene_opts, ssm_scene_opts_default, ssm_audio_scenes_write, SSM_SCENE_CLASSES,
//          SSM_SCENE_MIDS, SSM_SCENE_NAMES
// A multi-label sound-event set made from nothing (no download, no package), in the AST/AuM
// manifest layout (datasets/audio_manifest.h): the demo of task.name multilabel
// (configs/audio/multilabel_demo.yaml, `ssmkit synth-scenes`) and its end-to-end test.
// Each clip holds 1..max_sources overlapping sources of distinct classes over faint
// background noise; its labels are the classes present. Eight classes, each a family of
// sounds whose parameters vary from clip to clip (pitch, rate, sweep range), so a model
// must learn the family and not one waveform:
//   hum           a harmonic series (8 partials, 1/h) on 100..160 Hz
//   tone          a steady sine, 800..1100 Hz
//   whistle       a sine of 2800..3600 Hz with a 5..7 Hz vibrato of +-3%
//   rising chirp  a linear sweep from 300..500 Hz up to 2000..2600 Hz
//   falling chirp the same sweep downwards
//   beeps         a 1400..1700 Hz sine gated on and off every 40..70 ms
//   noise burst   white noise
//   clicks        4 ms decaying noise bursts, 15..30 per second
// A source starts in the first half of the clip and lasts 30..60% of it (cut at the end),
// at an amplitude of 0.05..0.25, with 10 ms fades. Writes, under dir (created if missing):
//   class_labels_indices.csv       index,mid,display_name (mids /t/scene_<name>; one display
//                                  name holds a comma, quoted, as AudioSet's do)
//   train.json, val.json, test.json   {"data": [{"wav": "audio/train_00000.wav", "labels":
//                                  "/t/scene_tone,/t/scene_clicks"}, ...]}
//   audio/<split>_<i>.wav          16-bit PCM mono
// Deterministic for a seed: clip i of a split draws from its own key, so the sizes do not
// change the first clips.
#pragma once
#include <stdint.h>

#include "core/error.h"

#define SSM_SCENE_CLASSES 8
extern const char *const SSM_SCENE_MIDS[SSM_SCENE_CLASSES];
extern const char *const SSM_SCENE_NAMES[SSM_SCENE_CLASSES];

typedef struct {
    int64_t n_train, n_val, n_test; // clips per split (>= 1 each)
    double seconds;                 // clip length (> 0)
    int sample_rate;                // Hz (8000..48000)
    int max_sources;                // sources per clip: uniform in 1..max_sources (<= classes)
    uint64_t seed;
} ssm_scene_opts;

// 800 / 100 / 200 clips of 1 s at 16 kHz, 1..3 sources, seed 0.
void ssm_scene_opts_default(ssm_scene_opts *o);

ssm_code ssm_audio_scenes_write(const char *dir, const ssm_scene_opts *o, ssm_error *err);
