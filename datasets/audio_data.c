// defines: audio_data_is_audio, audio_data_fbank_opts, audio_data_open, audio_data_close
//          (see audio_data.h)
#include "datasets/audio_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "datasets/audio_manifest.h"

int audio_data_is_audio(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_SPEECH_COMMANDS || dc->name == SSM_DATA_ESC50 ||
           dc->name == SSM_DATA_AUDIO_FOLDER || dc->name == SSM_DATA_AUDIO_MANIFEST;
}

void audio_data_fbank_opts(ssm_fbank_opts *o, const ssm_data_config *dc) {
    const ssm_fbank_config *f = &dc->fbank;
    ssm_fbank_opts_default(o);
    o->sample_rate = (double)dc->sample_rate;
    o->num_mel_bins = (int)f->num_mel_bins;
    o->frame_length_ms = f->frame_length_ms;
    o->frame_shift_ms = f->frame_shift_ms;
    o->round_to_power_of_two = f->round_to_power_of_two;
    o->remove_dc_clip = f->remove_dc_clip;
    o->remove_dc_offset = f->remove_dc_offset;
    o->preemphasis = f->preemphasis;
    o->window = (ssm_fbank_window)f->window; // same order (config.h says so)
    o->low_freq = f->low_freq;
    o->high_freq = f->high_freq;
    o->snip_edges = f->snip_edges;
}

static const char *recipe_name(ssm_data_name n) {
    return n == SSM_DATA_SPEECH_COMMANDS ? "speech_commands"
         : n == SSM_DATA_ESC50 ? "esc50"
         : n == SSM_DATA_AUDIO_MANIFEST ? "audio_manifest" : "audio_folder";
}

// Moves round(frac * count) of each class's ids (seeded choice) from *ids to *out.
static ssm_code hold_out(const ssm_audio_set *s, int64_t *ids, int64_t *n, double frac,
                         uint64_t seed, int64_t **out, int64_t *n_out, ssm_error *err) {
    *n_out = 0;
    *out = malloc((size_t)(*n ? *n : 1) * sizeof **out);
    int8_t *take = calloc((size_t)(*n ? *n : 1), 1);
    int64_t *cls = malloc((size_t)(*n ? *n : 1) * sizeof *cls);
    ssm_rng r;
    ssm_code rc = !*out || !take || !cls ? ssm_fail(err, SSM_ENOMEM, "out of memory")
                                         : ssm_rng_init(&r, seed, err);
    for (int32_t k = 0; !rc && k < s->num_classes; k++) {
        int64_t m = 0;
        for (int64_t i = 0; i < *n; i++)
            if (s->clips[ids[i]].label == k)
                cls[m++] = i;
        ssm_rng_shuffle(&r, cls, (size_t)m);
        int64_t h = (int64_t)llround(frac * (double)m);
        for (int64_t j = 0; j < h; j++)
            take[cls[j]] = 1;
    }
    if (!rc) {
        ssm_rng_free(&r);
        int64_t kept = 0;
        for (int64_t i = 0; i < *n; i++) {
            if (take[i])
                (*out)[(*n_out)++] = ids[i];
            else
                ids[kept++] = ids[i];
        }
        *n = kept;
    }
    free(take);
    free(cls);
    return rc;
}

// A manifest's path: as given when absolute (or without data.path), else under data.path.
static void under_path(char *out, size_t n, const ssm_data_config *dc, const char *p) {
    if (!p[0] || p[0] == '/' || !dc->path[0])
        snprintf(out, n, "%s", p);
    else
        snprintf(out, n, "%s/%s", dc->path, p);
}

static ssm_code load_manifests(audio_data *d, const ssm_data_config *dc, ssm_error *err) {
    if (!dc->train_manifest[0])
        return ssm_fail(err, SSM_ECONFIG, "data.train_manifest: empty; data.name audio_manifest "
                        "reads the clips from AST/AuM JSON manifests");
    char m[3][2 * SSM_CFG_PATH_MAX], csv[2 * SSM_CFG_PATH_MAX];
    under_path(m[0], sizeof m[0], dc, dc->train_manifest);
    under_path(m[1], sizeof m[1], dc, dc->val_manifest);
    under_path(m[2], sizeof m[2], dc, dc->test_manifest);
    under_path(csv, sizeof csv, dc, dc->label_csv);
    return ssm_audio_set_manifests(&d->set, m[0], m[1], m[2], csv, err);
}

static ssm_code load_set(audio_data *d, const ssm_data_config *dc, uint64_t seed, ssm_error *err) {
    if (dc->name == SSM_DATA_AUDIO_MANIFEST)
        return load_manifests(d, dc, err);
    if (!dc->path[0])
        return ssm_fail(err, SSM_ECONFIG, "data.path: empty; data.name %s needs the folder of the "
                        "data set", recipe_name(dc->name));
    if (dc->name == SSM_DATA_SPEECH_COMMANDS)
        return ssm_audio_set_speech_commands(&d->set, dc->path,
                                             dc->label_set == SSM_LABELS_KEYWORDS12
                                                 ? SSM_AUDIO_LABELS_KEYWORDS12
                                                 : SSM_AUDIO_LABELS_ALL,
                                             ssm_seed_derive(seed, 201), err);
    if (dc->name == SSM_DATA_ESC50) {
        if (dc->fold > 4)
            return ssm_fail(err, SSM_ECONFIG, "data.fold: %lld, esc50 has folds 0..4 (the CSV's "
                            "1..5)", (long long)dc->fold);
        return ssm_audio_set_esc50(&d->set, dc->path, (int)dc->fold + 1, err);
    }
    return ssm_audio_set_folder(&d->set, dc->path, err);
}

// The three id lists: the layout's splits, or held out of the training clips.
static ssm_code make_splits(audio_data *d, const ssm_data_config *dc, uint64_t seed,
                            ssm_error *err) {
    for (int sp = 0; sp < 3; sp++)
        SSM_TRY(ssm_audio_set_ids(&d->set, (ssm_audio_split)sp, &d->ids[sp], &d->n_ids[sp], err));
    if (dc->name == SSM_DATA_AUDIO_FOLDER && !d->set.has_splits) {
        if (!(dc->val_fraction > 0))
            return ssm_fail(err, SSM_ECONFIG, "data.val_fraction: 0, but %s has no train/ and "
                            "test/ folders: the validation and test clips are held out of it",
                            dc->path);
        free(d->ids[2]);
        SSM_TRY(hold_out(&d->set, d->ids[0], &d->n_ids[0], dc->val_fraction,
                         ssm_seed_derive(seed, 203), &d->ids[2], &d->n_ids[2], err));
    }
    if (dc->name != SSM_DATA_SPEECH_COMMANDS && d->n_ids[1] == 0 && dc->val_fraction > 0) {
        free(d->ids[1]);
        SSM_TRY(hold_out(&d->set, d->ids[0], &d->n_ids[0], dc->val_fraction,
                         ssm_seed_derive(seed, 202), &d->ids[1], &d->n_ids[1], err));
    }
    if (dc->name == SSM_DATA_AUDIO_MANIFEST && d->n_ids[2] == 0) {
        // no test manifest: the validation clips are the test split (AST on AudioSet's eval)
        if (d->n_ids[1] == 0)
            return ssm_fail(err, SSM_ECONFIG, "data.test_manifest: empty, and there are no "
                            "validation clips to test on (data.val_manifest empty, "
                            "data.val_fraction 0)");
        free(d->ids[2]);
        d->n_ids[2] = d->n_ids[1];
        d->ids[2] = malloc((size_t)(d->n_ids[1] ? d->n_ids[1] : 1) * sizeof *d->ids[2]);
        if (!d->ids[2])
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        memcpy(d->ids[2], d->ids[1], (size_t)d->n_ids[1] * sizeof *d->ids[2]);
    }
    if (dc->limit > 0 && dc->limit < d->n_ids[0]) { // quick runs, tests
        // evenly spaced over the list, which is sorted by class folder: every class keeps some
        int64_t n = d->n_ids[0];
        for (int64_t k = 0; k < dc->limit; k++)
            d->ids[0][k] = d->ids[0][(int64_t)((double)k * (double)n / (double)dc->limit)];
        d->n_ids[0] = dc->limit;
    }
    if (d->n_ids[0] == 0)
        return ssm_fail(err, SSM_EDATA, "%s: no training clips", dc->path);
    return SSM_OK;
}

static ssm_code make_batcher(ssm_batcher *bt, const ssm_audio_source_opts *o, const int64_t *ids,
                             int64_t n, int64_t batch, int shuffle, int drop_last, uint64_t seed,
                             int prefetch, ssm_error *err) {
    ssm_sample_source src;
    SSM_TRY(ssm_audio_source(&src, o, err));
    ssm_batcher_opts bo = {.batch_size = batch, .shuffle = shuffle, .drop_last = drop_last,
                           .seed = seed, .prefetch = prefetch};
    return ssm_batcher_init(bt, &src, ids, n, &bo, err);
}

static ssm_code open_data(audio_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                          ssm_error *err) {
    if (!audio_data_is_audio(dc))
        return ssm_fail(err, SSM_ECONFIG, "data.name: not an audio data set");
    ssm_fbank_opts fo;
    audio_data_fbank_opts(&fo, dc);
    SSM_TRY(ssm_fbank_create(&d->fb, &fo, err));
    SSM_TRY(load_set(d, dc, seed, err));
    SSM_TRY(make_splits(d, dc, seed, err));
    d->sample_rate = (int)dc->sample_rate;
    d->T = dc->target_frames;
    d->F = ssm_fbank_num_bins(d->fb);
    d->num_classes = d->set.num_classes;
    const ssm_augment_config *ac = &dc->augment;
    if (ac->noise_dir[0]) { // the config's noise folder replaces the set's
        char **paths;
        int64_t n;
        SSM_TRY(ssm_audio_list_files(ac->noise_dir, &paths, &n, err));
        ssm_code rc = ssm_audio_noise_load(&d->noise, paths, n, d->sample_rate, err);
        ssm_audio_paths_free(paths, n);
        SSM_TRY(rc);
    } else {
        SSM_TRY(ssm_audio_noise_load(&d->noise, d->set.noise_paths, d->set.n_noise,
                                     d->sample_rate, err));
    }
    if (ac->noise > 0 && d->noise.n == 0)
        return ssm_fail(err, SSM_ECONFIG, "data.augment.noise: %g, but %s has no %s/ and "
                        "data.augment.noise_dir is empty", ac->noise, dc->path,
                        SSM_AUDIO_NOISE_DIR);
    ssm_audio_source_opts o = {
        .set = &d->set, .fb = d->fb, .noise = &d->noise, .sample_rate = d->sample_rate,
        .target_frames = d->T, .train = 1, .mix_ids = d->ids[0], .n_mix = d->n_ids[0],
        .normalize = ac->normalize,
        .aug = {.freq_mask = ac->freq_mask, .time_mask = ac->time_mask, .n_masks = (int)ac->masks,
                .shift = ac->time_shift, .roll = ac->roll, .gain_db = ac->gain_db,
                .noise_p = ac->noise, .snr_min = ac->snr_min, .snr_max = ac->snr_max,
                .mixup_p = ac->mixup, .mixup_alpha = ac->mixup_alpha},
        .soft_labels = ac->mixup > 0}; // classify trains on the mixed labels
    if (dc->audio_std > 0) {
        d->mean = dc->audio_mean;
        d->std = dc->audio_std;
    } else if (ac->normalize) {
        SSM_TRY(ssm_audio_stats(&o, d->ids[0], d->n_ids[0], AUDIO_STATS_MAX_CLIPS, &d->mean,
                                &d->std, err));
        ssm_info("data: training-set log-mel statistics (data.audio_mean, data.audio_std): "
                 "%.7g %.7g", d->mean, d->std);
        if (!(d->std > 0))
            return ssm_fail(err, SSM_EDATA, "%s: the training clips' log-mel std is %g: silent "
                            "audio?", dc->path, d->std);
    }
    o.mean = d->mean;
    o.std = d->std;
    ssm_audio_source_opts plain = o;
    plain.train = 0;
    plain.soft_labels = 0; // evaluation: the hard labels (a multi-label set keeps its multi-hot)
    int64_t eval_batch = dc->eval_batch_size > 0 ? dc->eval_batch_size : dc->batch_size;
    int prefetch = dc->num_workers > 0;
    d->n_train = d->n_ids[0];
    SSM_TRY(make_batcher(&d->train, &o, d->ids[0], d->n_train, dc->batch_size, dc->shuffle, 1,
                         ssm_seed_derive(seed, 102), prefetch, err));
    d->open |= 1;
    // no validation clips: validate on the test split (ESC-50 as AST reports it)
    int val_split = d->n_ids[1] > 0 ? 1 : 2;
    d->n_val = d->n_ids[val_split];
    d->has_val = d->n_val > 0;
    if (d->has_val) {
        SSM_TRY(make_batcher(&d->val, &plain, d->ids[val_split], d->n_val, eval_batch, 0, 0, seed,
                             prefetch, err));
        d->open |= 2;
    }
    if (test_too) {
        d->n_test = d->n_ids[2];
        if (d->n_test == 0)
            return ssm_fail(err, SSM_EDATA, "%s: no test clips", dc->path);
        SSM_TRY(make_batcher(&d->test, &plain, d->ids[2], d->n_test, eval_batch, 0, 0, seed,
                             prefetch, err));
        d->open |= 4;
    }
    ssm_info("data: %s: %lld train, %lld val%s, %lld test clips, %d classes%s, x [%lld frames, "
             "%lld mel] at %d Hz%s", dc->path[0] ? dc->path : d->set.dir, (long long)d->n_train,
             (long long)d->n_val, val_split == 2 ? " (the test split)" : "", (long long)d->n_test,
             d->num_classes, d->set.label_off ? " (multi-label)" : "", (long long)d->T,
             (long long)d->F, d->sample_rate, ac->mixup > 0 ? ", mixup on" : "");
    return SSM_OK;
}

ssm_code audio_data_open(audio_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                         ssm_error *err) {
    memset(d, 0, sizeof *d);
    ssm_code rc = open_data(d, dc, seed, test_too, err);
    if (rc)
        audio_data_close(d); // nothing half-open is left behind
    return rc;
}

void audio_data_close(audio_data *d) {
    ssm_batchers_free(&d->train, &d->val, &d->test, (unsigned)d->open);
    for (int sp = 0; sp < 3; sp++)
        free(d->ids[sp]);
    ssm_audio_noise_free(&d->noise);
    ssm_audio_set_free(&d->set);
    ssm_fbank_free(d->fb);
    memset(d, 0, sizeof *d);
}
