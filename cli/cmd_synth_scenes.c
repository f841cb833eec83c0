// defines: cmd_synth_scenes (ssmkit synth-scenes DIR [--train N] [--val N] [--test N]
//          [--seconds S] [--sources K] [--rate HZ] [--seed S])
// Writes the synthetic multi-label sound-event set of datasets/audio_manifest_synth.h in
// AST/AuM's manifest layout (train.json, val.json, test.json, class_labels_indices.csv,
// audio/*.wav): the no-download demo of task.name multilabel
// (configs/audio/multilabel_demo.yaml) and a way to try the AudioSet pipeline.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "datasets/audio_manifest_synth.h"

static const char *USAGE = "ssmkit synth-scenes DIR [--train N] [--val N] [--test N] "
                           "[--seconds S] [--sources K] [--rate HZ] [--seed S]";

static int option(void *ctx, const char *s, const char *v) {
    ssm_scene_opts *o = ctx;
    if (!strcmp(s, "--train")) o->n_train = atoll(v);
    else if (!strcmp(s, "--val")) o->n_val = atoll(v);
    else if (!strcmp(s, "--test")) o->n_test = atoll(v);
    else if (!strcmp(s, "--seconds")) o->seconds = atof(v);
    else if (!strcmp(s, "--sources")) o->max_sources = atoi(v);
    else if (!strcmp(s, "--rate")) o->sample_rate = atoi(v);
    else if (!strcmp(s, "--seed")) o->seed = strtoull(v, NULL, 10);
    else
        return 1;
    return 0;
}

int cmd_synth_scenes(int argc, char **argv) {
    ssm_scene_opts o;
    ssm_scene_opts_default(&o);
    const char *dir;
    int rc = cli_parse_dir_options(
        argc, argv, USAGE,
        "Writes a multi-label sound-event set in AST/AuM's manifest layout\n"
        "(docs/datasets.md): clips of 1..K overlapping sources of 8 classes (hum,\n"
        "tone, whistle, chirps, beeps, noise bursts, clicks) over faint noise.\n"
        "Defaults: 800 / 100 / 200 clips of 1 s at 16000 Hz, 1..3 sources, seed 0.\n",
        &dir, option, &o);
    if (rc >= 0)
        return rc;
    ssm_error err = {0};
    if (ssm_audio_scenes_write(dir, &o, &err))
        return cli_fail("synth-scenes", &err);
    printf("%s: %lld / %lld / %lld clips of %g s, %d classes, 1..%d sources each\n", dir,
           (long long)o.n_train, (long long)o.n_val, (long long)o.n_test, o.seconds,
           SSM_SCENE_CLASSES, o.max_sources);
    return 0;
}
