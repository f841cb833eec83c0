// Check suite: the audio set layouts (datasets/audio_sets.h) and the audio recipe
// (datasets/audio_data.h) on small real-format fixtures written here as WAV files:
// Speech Commands v2 (list files define validation and test, _background_noise_ is not a
// class, the 35-word style "all" protocol and keywords12 with its _unknown_ subsample and
// _silence_ clips), ESC-50 (meta/esc50.csv, the test fold), a folder per class (flat, and
// train/ test/); the recipe's batches (shape, labels, training-set statistics, evaluation
// batches identical across epochs); bad input refused naming the file and line.
#include <check.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "datasets/audio_data.h"
#include "datasets/audio_sets.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static char g_root[64];

static void mkdirs(const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

// A clip of class k: a tone at 300 * 2^k Hz with a little noise, n samples at 16 kHz.
static void write_clip(const char *path, int k, int n, uint64_t seed) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    mkdirs(dir);
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s", path);
    float *x = malloc((size_t)n * sizeof *x);
    uint64_t st = seed;
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * 300 * pow(2, k) * i / 16000.0) +
                       0.01 * (tu_uniform(&st) - 0.5));
    sf_writef_float(f, x, n);
    sf_close(f);
    free(x);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

// Speech Commands layout: words yes, no, up, ..., go (the ten keywords) and bed, cat
// (other words); 4 speakers a b c d per word; speaker c is validation, d test.
static void make_speech_commands(const char *dir) {
    const char *words[] = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
                           "bed", "cat"};
    const char *spk[] = {"aaaa1111", "bbbb2222", "cccc3333", "dddd4444"};
    char path[512], vl[8192] = "", tl[8192] = "";
    for (int w = 0; w < 12; w++)
        for (int s = 0; s < 4; s++) {
            snprintf(path, sizeof path, "%s/%s/%s_nohash_0.wav", dir, words[w], spk[s]);
            write_clip(path, w % 4, 16000, (uint64_t)(w * 4 + s));
            char line[64];
            snprintf(line, sizeof line, "%s/%s_nohash_0.wav\n", words[w], spk[s]);
            if (s == 2)
                strcat(vl, line);
            else if (s == 3)
                strcat(tl, line);
        }
    snprintf(path, sizeof path, "%s/validation_list.txt", dir);
    write_text(path, vl);
    snprintf(path, sizeof path, "%s/testing_list.txt", dir);
    write_text(path, tl);
    snprintf(path, sizeof path, "%s/_background_noise_/white.wav", dir);
    write_clip(path, 5, 32000, 99);
}

static int64_t count(const ssm_audio_set *s, int split, int label) {
    int64_t n = 0;
    for (int64_t i = 0; i < s->n; i++)
        n += s->clips[i].split == split && (label < 0 || s->clips[i].label == label);
    return n;
}

START_TEST(speech_commands_layout_and_protocols) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sc", g_root);
    make_speech_commands(dir);
    ssm_audio_set s;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_set_speech_commands(&s, dir, SSM_AUDIO_LABELS_ALL, 1, &e) == SSM_OK,
                  "%s", e.msg);
    ck_assert_int_eq(s.num_classes, 12); // _background_noise_ is not a class
    ck_assert_str_eq(s.class_names[0], "bed"); // sorted folder names
    ck_assert_str_eq(s.class_names[11], "yes");
    ck_assert_int_eq(s.n, 48);
    ck_assert_int_eq(count(&s, SSM_AUDIO_TRAIN, -1), 24);
    ck_assert_int_eq(count(&s, SSM_AUDIO_VAL, -1), 12);
    ck_assert_int_eq(count(&s, SSM_AUDIO_TEST, -1), 12);
    for (int64_t i = 0; i < s.n; i++) // the split follows the speaker, as the lists say
        ck_assert_int_eq(s.clips[i].split, strstr(s.clips[i].path, "cccc3333") ? 1
                                           : strstr(s.clips[i].path, "dddd4444") ? 2 : 0);
    ck_assert_int_eq(s.n_noise, 1);
    ssm_audio_set_free(&s);

    ck_assert(ssm_audio_set_speech_commands(&s, dir, SSM_AUDIO_LABELS_KEYWORDS12, 1, &e) == SSM_OK);
    ck_assert_int_eq(s.num_classes, 12);
    ck_assert_str_eq(s.class_names[0], "yes");
    ck_assert_str_eq(s.class_names[10], "_silence_");
    ck_assert_str_eq(s.class_names[11], "_unknown_");
    // per split: 10 keyword clips (train: 20), ceil(10%) unknown and as many silence clips
    ck_assert_int_eq(count(&s, SSM_AUDIO_TRAIN, -1), 20 + 2 + 2);
    ck_assert_int_eq(count(&s, SSM_AUDIO_VAL, -1), 10 + 1 + 1);
    ck_assert_int_eq(count(&s, SSM_AUDIO_TRAIN, 11), 2);
    ck_assert_int_eq(count(&s, SSM_AUDIO_TEST, 10), 1);
    for (int64_t i = 0; i < s.n; i++) {
        const ssm_audio_clip *c = &s.clips[i];
        ck_assert((c->path == NULL) == (c->label == 10));
        if (c->label == 11)
            ck_assert(strstr(c->path, "/bed/") || strstr(c->path, "/cat/"));
    }
    ssm_audio_set_free(&s);

    // a list entry naming no clip: refused, naming the list and the entry
    char path[256];
    snprintf(path, sizeof path, "%s/testing_list.txt", dir);
    write_text(path, "yes/dddd4444_nohash_0.wav\nyes/zzzz_nohash_9.wav\n");
    ck_assert_int_eq(ssm_audio_set_speech_commands(&s, dir, SSM_AUDIO_LABELS_ALL, 1, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "testing_list.txt: entry 'yes/zzzz_nohash_9.wav' names no clip"),
                  "%s", e.msg);
    unlink(path);
    ck_assert_int_eq(ssm_audio_set_speech_commands(&s, dir, SSM_AUDIO_LABELS_ALL, 1, &e), SSM_EIO);
    ck_assert(strstr(e.msg, "testing_list.txt: cannot open the split list"));
}
END_TEST

static void make_esc50(const char *dir, const char *extra_row) {
    char path[512], csv[8192] = "filename,fold,target,category,esc10,src_file,take\n";
    const char *cat[] = {"dog", "rain", "bell"};
    for (int fold = 1; fold <= 5; fold++)
        for (int t = 0; t < 3; t++)
            for (int k = 0; k < 2; k++) {
                char name[64], row[160];
                snprintf(name, sizeof name, "%d-%d-%c-%d.wav", fold, 100 + t, 'A' + k, t);
                snprintf(path, sizeof path, "%s/audio/%s", dir, name);
                write_clip(path, t, 8000, (uint64_t)(fold * 10 + t * 2 + k));
                snprintf(row, sizeof row, "%s,%d,%d,%s,False,%d,%c\n", name, fold, t, cat[t], 100 + t,
                         'A' + k);
                strcat(csv, row);
            }
    strcat(csv, extra_row);
    snprintf(path, sizeof path, "%s/meta", dir);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/meta/esc50.csv", dir);
    write_text(path, csv);
}

START_TEST(esc50_folds) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/esc", g_root);
    make_esc50(dir, "");
    ssm_audio_set s;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_set_esc50(&s, dir, 3, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.num_classes, 3);
    ck_assert_str_eq(s.class_names[1], "rain"); // named by category, in target order
    ck_assert_int_eq(count(&s, SSM_AUDIO_TEST, -1), 6);
    ck_assert_int_eq(count(&s, SSM_AUDIO_TRAIN, -1), 24);
    for (int64_t i = 0; i < s.n; i++)
        ck_assert_int_eq(s.clips[i].split == SSM_AUDIO_TEST, s.clips[i].fold == 3);
    ssm_audio_set_free(&s);
    make_esc50(dir, "6-1-A-1.wav,6,1,rain,False,1,A\n");
    ck_assert_int_eq(ssm_audio_set_esc50(&s, dir, 1, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "esc50.csv: line 32: fold '6', expected 1..5"), "%s", e.msg);
    make_esc50(dir, "9-1-A-1.wav,2,1,thunder,False,1,A\n");
    ck_assert_int_eq(ssm_audio_set_esc50(&s, dir, 1, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "line 32: target 1 is 'thunder' here but 'rain' above"), "%s", e.msg);
    ck_assert_int_eq(ssm_audio_set_esc50(&s, dir, 6, &e), SSM_ECONFIG);
    make_esc50(dir, "");
}
END_TEST

START_TEST(folder_per_class) {
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/fold_flat", g_root);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 5; i++) {
            snprintf(path, sizeof path, "%s/class%c/clip%d.flac", dir, 'A' + k, i);
            SF_INFO info = {.samplerate = 16000, .channels = 1,
                            .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
            snprintf(path, sizeof path, "%s/class%c", dir, 'A' + k);
            mkdirs(path);
            snprintf(path, sizeof path, "%s/class%c/clip%d.flac", dir, 'A' + k, i);
            SNDFILE *f = sf_open(path, SFM_WRITE, &info);
            float x[4000];
            for (int j = 0; j < 4000; j++)
                x[j] = (float)(0.2 * sin(j * 0.01 * (k + 1)));
            sf_writef_float(f, x, 4000);
            sf_close(f);
        }
    snprintf(path, sizeof path, "%s/notes.txt", dir); // not audio, not a folder: ignored
    write_text(path, "hello");
    ssm_audio_set s;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_set_folder(&s, dir, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.num_classes, 3);
    ck_assert_int_eq(s.n, 15);
    ck_assert_int_eq(s.has_splits, 0);
    ssm_audio_set_free(&s);
    // train/ and test/: those are the splits; a test class unknown to train is refused
    snprintf(dir, sizeof dir, "%s/fold_split", g_root);
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/train/%s/x.wav", dir, k ? "b" : "a");
        write_clip(path, k, 4000, 1);
        snprintf(path, sizeof path, "%s/test/%s/y.wav", dir, k ? "b" : "a");
        write_clip(path, k, 4000, 2);
    }
    ck_assert(ssm_audio_set_folder(&s, dir, &e) == SSM_OK);
    ck_assert_int_eq(s.has_splits, 1);
    ck_assert_int_eq(count(&s, SSM_AUDIO_TEST, 1), 1);
    ssm_audio_set_free(&s);
    snprintf(path, sizeof path, "%s/test/zebra/z.wav", dir);
    write_clip(path, 0, 4000, 3);
    ck_assert_int_eq(ssm_audio_set_folder(&s, dir, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "test/zebra: a class folder the training split does not have"),
                  "%s", e.msg);
}
END_TEST

static void audio_config(ssm_config *c, const char *path) {
    ssm_config_defaults(c);
    c->data.name = SSM_DATA_SPEECH_COMMANDS;
    snprintf(c->data.path, sizeof c->data.path, "%s", path);
    c->data.target_frames = 100;
    c->data.fbank.num_mel_bins = 32;
    c->data.batch_size = 4;
    c->data.num_workers = 1;
}

START_TEST(recipe_batches) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sc2", g_root);
    make_speech_commands(dir);
    ssm_config c;
    audio_config(&c, dir);
    c.data.augment.freq_mask = 8;
    c.data.augment.time_mask = 20;
    c.data.augment.noise = 0.5;
    c.data.augment.time_shift = 0.1;
    audio_data d;
    ssm_error e = {0};
    ck_assert_msg(audio_data_open(&d, &c.data, 5, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.T, 100);
    ck_assert_int_eq(d.F, 32);
    ck_assert_int_eq(d.num_classes, 12);
    ck_assert_int_eq(d.n_train, 24);
    ck_assert_int_eq(d.n_val, 12);
    ck_assert_int_eq(d.n_test, 12);
    ck_assert(d.std > 0 && isfinite(d.mean));
    const ssm_batch *b;
    ck_assert_int_eq(ssm_batcher_next(&d.train, &b, &e), SSM_OK);
    ck_assert_int_eq(b->B, 4);
    ck_assert_int_eq(b->ndim, 3);
    ck_assert_int_eq(b->shape[1], 100);
    ck_assert_int_eq(b->shape[2], 32);
    for (int i = 0; i < 4; i++)
        ck_assert(b->y[i] >= 0 && b->y[i] < 12);
    // normalised: mean near 0 and spread near 1/2 over a batch of clips
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < 4 * 100 * 32; i++) {
        ck_assert(isfinite(b->x[i]));
        s += b->x[i];
        s2 += b->x[i] * b->x[i];
    }
    double m = s / (4 * 3200.0), sd = sqrt(s2 / (4 * 3200.0) - m * m);
    ck_assert_msg(fabs(m) < 0.5 && sd > 0.2 && sd < 1.0, "mean %g sd %g", m, sd);
    // evaluation batches: the same bits in two epochs
    real *first = malloc(sizeof(real) * 4 * 3200);
    ck_assert_int_eq(ssm_batcher_next(&d.val, &b, &e), SSM_OK);
    memcpy(first, b->x, sizeof(real) * 4 * 3200);
    while (ssm_batcher_next(&d.val, &b, &e) == SSM_OK && b) {
    }
    ck_assert_int_eq(ssm_batcher_next(&d.val, &b, &e), SSM_OK);
    ck_assert(memcmp(first, b->x, sizeof(real) * 4 * 3200) == 0);
    free(first);
    audio_data_close(&d);

    // data.limit: 6 of the 24 training clips, spread over the classes (the list is sorted
    // by word folder: the first 6 would be 3 classes)
    c.data.limit = 6;
    ck_assert(audio_data_open(&d, &c.data, 5, 0, &e) == SSM_OK);
    ck_assert_int_eq(d.n_train, 6);
    int32_t seen[12] = {0}, distinct = 0;
    for (int64_t i = 0; i < d.n_train; i++)
        distinct += !seen[d.set.clips[d.ids[0][i]].label]++;
    ck_assert_int_eq(distinct, 6);
    audio_data_close(&d);
    c.data.limit = 0;

    // the config's statistics are used as given
    c.data.audio_mean = -4.25;
    c.data.audio_std = 4.5;
    ck_assert(audio_data_open(&d, &c.data, 5, 0, &e) == SSM_OK);
    ck_assert(d.mean == -4.25 && d.std == 4.5);
    audio_data_close(&d);

    // a broken clip: the batch that holds it fails, naming the file
    char bad[256];
    snprintf(bad, sizeof bad, "%s/yes/aaaa1111_nohash_0.wav", dir);
    write_text(bad, "RIFF....WAVEjunk");
    c.data.shuffle = false;
    ck_assert(audio_data_open(&d, &c.data, 5, 0, &e) == SSM_OK);
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK && (rc = ssm_batcher_next(&d.train, &b, &e)) == SSM_OK && b) {
    }
    ck_assert_int_ne(rc, SSM_OK);
    ck_assert_msg(strstr(e.msg, bad) != NULL, "%s", e.msg);
    audio_data_close(&d);
    // statistics from the training set read every clip: the same file fails the open
    c.data.audio_std = 0;
    ck_assert_int_ne(audio_data_open(&d, &c.data, 5, 0, &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, bad) != NULL, "%s", e.msg);
    // no data.path: refused by key
    c.data.path[0] = 0;
    ck_assert_int_eq(audio_data_open(&d, &c.data, 5, 0, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "data.path: empty; data.name speech_commands"));
}
END_TEST

START_TEST(recipe_esc50_and_folder_hold_out) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/esc2", g_root);
    make_esc50(dir, "");
    ssm_config c;
    audio_config(&c, dir);
    c.data.name = SSM_DATA_ESC50;
    c.data.fold = 4; // the CSV's fold 5
    c.data.val_fraction = 0;
    audio_data d;
    ssm_error e = {0};
    ck_assert_msg(audio_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_train, 24);
    ck_assert_int_eq(d.n_test, 6);
    ck_assert_int_eq(d.n_val, 6); // no validation split: the test fold validates (AST)
    for (int64_t i = 0; i < d.n_ids[2]; i++)
        ck_assert_int_eq(d.set.clips[d.ids[2][i]].fold, 5);
    audio_data_close(&d);
    c.data.val_fraction = 0.25; // stratified: 2 of each class's 8 training clips
    ck_assert(audio_data_open(&d, &c.data, 1, 1, &e) == SSM_OK);
    ck_assert_int_eq(d.n_val, 6);
    ck_assert_int_eq(d.n_train, 18);
    audio_data_close(&d);
    c.data.fold = 5;
    ck_assert_int_eq(audio_data_open(&d, &c.data, 1, 1, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "data.fold: 5, esc50 has folds 0..4"));
    // a flat folder: validation and test both held out of it
    snprintf(dir, sizeof dir, "%s/fold_flat", g_root);
    c.data.name = SSM_DATA_AUDIO_FOLDER;
    snprintf(c.data.path, sizeof c.data.path, "%s", dir);
    c.data.val_fraction = 0.2;
    ck_assert_msg(audio_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_test, 3);
    ck_assert_int_eq(d.n_val, 3);
    ck_assert_int_eq(d.n_train, 9);
    audio_data_close(&d);
    c.data.val_fraction = 0;
    ck_assert_int_eq(audio_data_open(&d, &c.data, 1, 1, &e), SSM_ECONFIG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("audio_data");
    TCase *tc = tcase_create("audio_data");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, speech_commands_layout_and_protocols);
    tcase_add_test(tc, esc50_folds);
    tcase_add_test(tc, folder_per_class);
    tcase_add_test(tc, recipe_batches);
    tcase_add_test(tc, recipe_esc50_and_folder_hold_out);
    suite_add_tcase(s, tc);
    // nofork: the fixtures of one test serve the next
    return tu_run_suite_in(s, 1, g_root, sizeof g_root, "ssm_audio_data");
}
