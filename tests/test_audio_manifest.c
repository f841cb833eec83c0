// Check suite: AST/AuM JSON manifests and class_labels_indices.csv (datasets/audio_manifest.h)
// on fixtures written here (WAV files by libsndfile, manifests and a label CSV as AST's
// prep scripts write them: relative and absolute "wav" paths, extra keys, quoted display
// names with commas, rows out of index order); the generated scene set
// (datasets/audio_manifest_synth.h: deterministic, its manifests agree with its CSV); the
// audio_manifest recipe (multi-hot y_dense batches, mixup's mixed multi-hot targets, the
// test split defaulting to the validation manifest); bad input refused naming the file and
// the entry or line.
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
#include "datasets/audio_manifest.h"
#include "datasets/audio_manifest_synth.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static char g_root[64];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

// 0.5 s of a tone at 16 kHz.
static void write_wav(const char *path, double hz) {
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s", path);
    float x[8000];
    for (int i = 0; i < 8000; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * hz * i / 16000.0));
    sf_writef_float(f, x, 8000);
    sf_close(f);
}

static const char *CSV = "index,mid,display_name\n"
                         "0,/m/09x0r,Speech\n"
                         "1,/m/05zppz,\"Male speech, man speaking\"\n"
                         "3,/t/dd00088,\"Beep, \"\"bleep\"\"\"\n" // out of order, quotes inside
                         "2,/m/0ytgt,\"Child speech, kid speaking\"\n";

// <root>/m: audio/{a,b,c,d,e}.wav, class_labels_indices.csv, train.json (3 clips, one by
// absolute path), val.json (2 clips).
static void make_fixture(char *dir, size_t n) {
    snprintf(dir, n, "%s/m", g_root);
    char p[512], text[2048];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/audio", dir);
    mkdir(p, 0755);
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/audio/%s.wav", dir, names[i]);
        write_wav(p, 300 + 200 * i);
    }
    snprintf(p, sizeof p, "%s/class_labels_indices.csv", dir);
    write_text(p, CSV);
    snprintf(text, sizeof text,
             "{\n \"data\": [\n"
             "  {\"wav\": \"audio/a.wav\", \"labels\": \"/m/09x0r,/m/05zppz\", \"video_id\": \"x\"},\n"
             "  {\"labels\": \"/t/dd00088\", \"wav\": \"audio/b.wav\"},\n"
             "  {\"wav\": \"%s/audio/c.wav\", \"labels\": \" /m/0ytgt , /m/09x0r,/m/0ytgt\"}\n"
             " ]\n}\n", dir);
    snprintf(p, sizeof p, "%s/train.json", dir);
    write_text(p, text);
    snprintf(p, sizeof p, "%s/val.json", dir);
    write_text(p, "{\"data\": [{\"wav\": \"audio/d.wav\", \"labels\": \"/t/dd00088\"},"
                  " {\"wav\": \"audio/e.wav\", \"labels\": \"/m/05zppz,/t/dd00088\"}]}");
}

static void labels_are(const ssm_audio_set *s, int64_t id, int n, const int32_t *want) {
    ck_assert_int_eq(s->label_off[id + 1] - s->label_off[id], n);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(s->label_idx[s->label_off[id] + i], want[i]);
    ck_assert_int_eq(s->clips[id].label, want[0]);
}

START_TEST(reads_manifests_and_label_csv) {
    char dir[256], tr[512], va[512], csv[512];
    make_fixture(dir, sizeof dir);
    snprintf(tr, sizeof tr, "%s/train.json", dir);
    snprintf(va, sizeof va, "%s/val.json", dir);
    snprintf(csv, sizeof csv, "%s/class_labels_indices.csv", dir);
    ssm_audio_set s;
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_set_manifests(&s, tr, va, "", csv, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.n, 5);
    ck_assert_int_eq(s.num_classes, 4);
    ck_assert_str_eq(s.class_names[1], "Male speech, man speaking");
    ck_assert_str_eq(s.class_names[2], "Child speech, kid speaking");
    ck_assert_str_eq(s.class_names[3], "Beep, \"bleep\"");
    labels_are(&s, 0, 2, (int32_t[]){0, 1});
    labels_are(&s, 1, 1, (int32_t[]){3});
    labels_are(&s, 2, 2, (int32_t[]){2, 0}); // spaces trimmed, the repeated mid counted once
    labels_are(&s, 3, 1, (int32_t[]){3});
    labels_are(&s, 4, 2, (int32_t[]){1, 3});
    int8_t splits[5] = {0, 0, 0, 1, 1};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(s.clips[i].split, splits[i]);
    char want[600];
    snprintf(want, sizeof want, "%s/audio/a.wav", dir); // relative: under the manifest's folder
    ck_assert_str_eq(s.clips[0].path, want);
    snprintf(want, sizeof want, "%s/audio/c.wav", dir); // absolute: as given
    ck_assert_str_eq(s.clips[2].path, want);
    ssm_audio_set_free(&s);

    ssm_audio_label_csv c;
    ck_assert(ssm_audio_label_csv_read(&c, csv, &e) == SSM_OK);
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(c.mid[3], "/t/dd00088");
    ssm_audio_label_csv_free(&c);
}
END_TEST

// A manifest with `body`; loading it must fail with a message holding `want`.
static void refused(const char *dir, const char *body, const char *csv_body, const char *want) {
    char m[512], csv[512];
    snprintf(m, sizeof m, "%s/bad.json", dir);
    write_text(m, body);
    snprintf(csv, sizeof csv, "%s/bad.csv", dir);
    write_text(csv, csv_body ? csv_body : CSV);
    ssm_audio_set s;
    ssm_error e = {0};
    ck_assert_int_ne(ssm_audio_set_manifests(&s, m, NULL, NULL, csv, &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, want), "message '%s' lacks '%s'", e.msg, want);
    ck_assert_int_eq(s.n, 0); // nothing half-built is left
}

START_TEST(bad_manifests_name_the_file_and_entry) {
    char dir[256];
    make_fixture(dir, sizeof dir);
    const char *ok = "{\"wav\": \"audio/a.wav\", \"labels\": \"/m/09x0r\"}";
    char body[1024];
    snprintf(body, sizeof body, "{\"data\": [%s, {\"wav\": \"audio/b.wav\", \"labels\": "
             "\"/m/09x0r,/m/nope\"}]}", ok);
    refused(dir, body, NULL, "bad.json: entry 1 (audio/b.wav): label '/m/nope' is not in");
    snprintf(body, sizeof body, "{\"data\": [%s, %s, {\"labels\": \"/m/09x0r\"}]}", ok, ok);
    refused(dir, body, NULL, "bad.json: entry 2: expected an object with a \"wav\" path");
    snprintf(body, sizeof body, "{\"data\": [{\"wav\": \"audio/b.wav\", \"labels\": 3}]}");
    refused(dir, body, NULL, "entry 0 (audio/b.wav): expected \"labels\"");
    snprintf(body, sizeof body, "{\"data\": [{\"wav\": \"audio/b.wav\", \"labels\": \" , \"}]}");
    refused(dir, body, NULL, "entry 0 (audio/b.wav): no labels");
    snprintf(body, sizeof body, "{\"data\": [%s, {\"wav\": \"gone.wav\", \"labels\": "
             "\"/m/09x0r\"}]}", ok);
    refused(dir, body, NULL, "bad.json: entry 1: ");
    refused(dir, body, NULL, "/gone.wav: No such file");
    refused(dir, "{\"data\": [\n  {\"wav\": \"a.wav\",\n   \"labels\": \"x\",,\n}]}", NULL,
            "bad.json: line 3: not valid JSON");
    refused(dir, "[{\"wav\": \"audio/a.wav\", \"labels\": \"/m/09x0r\"}]", NULL,
            "bad.json: expected {\"data\": [{\"wav\"");
    refused(dir, "{\"data\": []}", NULL, "bad.json: no clips");
    // the label CSV
    snprintf(body, sizeof body, "{\"data\": [%s]}", ok);
    refused(dir, body, "index,mid,display_name\n0,/m/09x0r,Speech\n2,/m/0ytgt,Child\n",
            "bad.csv: index 1 is missing");
    refused(dir, body, "index,mid,display_name\n0,/m/09x0r,Speech\n1,/m/09x0r,Again\n",
            "bad.csv: mid /m/09x0r names classes");
    refused(dir, body, "index,mid,display_name\n0,/m/09x0r,Speech\nnope\n",
            "bad.csv: line 3: expected index,mid,display_name");
    refused(dir, body, "0,/m/09x0r,\"Speech\n", "(a quote is not closed)");
    refused(dir, body, "index,mid,display_name\n0,/m/09x0r,Speech\n0,/m/x,X\n",
            "bad.csv: line 3: index 0 appears twice");
    char m[512];
    snprintf(m, sizeof m, "%s/bad.json", dir);
    ssm_audio_set s;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_audio_set_manifests(&s, m, NULL, NULL, "/nonexistent/labels.csv", &e),
                     SSM_EIO);
    ck_assert(strstr(e.msg, "/nonexistent/labels.csv: cannot open the class list"));
}
END_TEST

static uint8_t *read_bytes(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    uint8_t *b = malloc((size_t)*n);
    ck_assert_int_eq(fread(b, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return b;
}

START_TEST(generated_scenes_are_a_readable_deterministic_set) {
    ssm_scene_opts o;
    ssm_scene_opts_default(&o);
    o.n_train = 12, o.n_val = 3, o.n_test = 4, o.seed = 7;
    char d1[256], d2[256], p[512], q[512];
    snprintf(d1, sizeof d1, "%s/scenes1", g_root);
    snprintf(d2, sizeof d2, "%s/scenes2", g_root);
    ssm_error e = {0};
    ck_assert_msg(ssm_audio_scenes_write(d1, &o, &e) == SSM_OK, "%s", e.msg);
    o.n_train = 5; // fewer clips: the first ones are the same
    ck_assert(ssm_audio_scenes_write(d2, &o, &e) == SSM_OK);
    for (int i = 0; i < 5; i++) {
        long n1, n2;
        snprintf(p, sizeof p, "%s/audio/train_%05d.wav", d1, i);
        snprintf(q, sizeof q, "%s/audio/train_%05d.wav", d2, i);
        uint8_t *a = read_bytes(p, &n1), *b = read_bytes(q, &n2);
        ck_assert_int_eq(n1, n2);
        ck_assert_msg(!memcmp(a, b, (size_t)n1), "clip %d differs between two runs", i);
        free(a);
        free(b);
    }
    char tr[512], va[512], te[512], csv[512];
    snprintf(tr, sizeof tr, "%s/train.json", d1);
    snprintf(va, sizeof va, "%s/val.json", d1);
    snprintf(te, sizeof te, "%s/test.json", d1);
    snprintf(csv, sizeof csv, "%s/class_labels_indices.csv", d1);
    ssm_audio_set s;
    ck_assert_msg(ssm_audio_set_manifests(&s, tr, va, te, csv, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.n, 12 + 3 + 4);
    ck_assert_int_eq(s.num_classes, SSM_SCENE_CLASSES);
    ck_assert_str_eq(s.class_names[5], "Beeps, pulsed");
    int64_t seen[SSM_SCENE_CLASSES] = {0}, counts[4] = {0};
    for (int64_t i = 0; i < s.n; i++) {
        int64_t k = s.label_off[i + 1] - s.label_off[i];
        ck_assert(k >= 1 && k <= 3);
        counts[k]++;
        for (int64_t j = s.label_off[i]; j < s.label_off[i + 1]; j++)
            seen[s.label_idx[j]]++;
    }
    ck_assert_msg(counts[1] && counts[2] && counts[3], "clips of 1, 2 and 3 sources expected");
    int classes = 0;
    for (int k = 0; k < SSM_SCENE_CLASSES; k++)
        classes += seen[k] > 0;
    ck_assert_int_ge(classes, 6);
    ssm_audio_set_free(&s);
    o.max_sources = 9;
    ck_assert_int_eq(ssm_audio_scenes_write(d2, &o, &e), SSM_EINVAL);
    ck_assert(strstr(e.msg, "9 sources per clip, expected 1..8"));
}
END_TEST

static void manifest_config(ssm_config *c, const char *dir) {
    ssm_config_defaults(c);
    c->data.name = SSM_DATA_AUDIO_MANIFEST;
    snprintf(c->data.path, sizeof c->data.path, "%s", dir);
    snprintf(c->data.train_manifest, sizeof c->data.train_manifest, "train.json");
    snprintf(c->data.val_manifest, sizeof c->data.val_manifest, "val.json");
    c->data.target_frames = 48;
    c->data.fbank.num_mel_bins = 32;
    c->data.batch_size = 3;
    c->data.num_workers = 0;
    c->data.shuffle = false;
}

// The multi-hot row of clip id.
static void multi_hot(const ssm_audio_set *s, int64_t id, real *row) {
    memset(row, 0, (size_t)s->num_classes * sizeof *row);
    for (int64_t j = s->label_off[id]; j < s->label_off[id + 1]; j++)
        row[s->label_idx[j]] = 1;
}

START_TEST(recipe_gives_multi_hot_and_mixed_targets) {
    char dir[256];
    make_fixture(dir, sizeof dir);
    ssm_config c;
    manifest_config(&c, dir);
    audio_data d;
    ssm_error e = {0};
    ck_assert_msg(audio_data_open(&d, &c.data, 3, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_train, 3);
    ck_assert_int_eq(d.n_val, 2);
    ck_assert_int_eq(d.n_test, 2); // no test manifest: the validation clips
    ck_assert_int_eq(d.num_classes, 4);
    real row[4];
    ssm_batcher *bts[2] = {&d.train, &d.test};
    for (int w = 0; w < 2; w++) {
        const ssm_batch *b;
        ck_assert(ssm_batcher_next(bts[w], &b, &e) == SSM_OK && b);
        ck_assert_ptr_nonnull(b->y_dense);
        ck_assert_int_eq(b->dense_kind, SSM_DENSE_MULTI_HOT);
        ck_assert_int_eq(b->dense_ndim, 2);
        ck_assert_int_eq(b->dense_shape[1], 4);
        for (int64_t i = 0; i < b->B; i++) {
            multi_hot(&d.set, b->index[i], row);
            for (int k = 0; k < 4; k++)
                ck_assert(b->y_dense[i * 4 + k] == row[k]);
            ck_assert_int_eq(b->y[i], d.set.clips[b->index[i]].label);
        }
    }
    audio_data_close(&d);

    // mixup on every clip: lambda * own multi-hot + (1 - lambda) * a training clip's
    c.data.augment.mixup = 1;
    c.data.batch_size = 3;
    ck_assert_msg(audio_data_open(&d, &c.data, 3, 0, &e) == SSM_OK, "%s", e.msg);
    int mixed = 0;
    for (int epoch = 0; epoch < 4; epoch++) {
        const ssm_batch *b;
        ck_assert(ssm_batcher_next(&d.train, &b, &e) == SSM_OK && b);
        ck_assert_int_eq(b->dense_kind, SSM_DENSE_MULTI_HOT);
        for (int64_t i = 0; i < b->B; i++) {
            const real *y = b->y_dense + i * 4;
            real own[4], other[4];
            multi_hot(&d.set, b->index[i], own);
            // lambda from a class that is the clip's own and not the partner's (or 1)
            int found = 0;
            for (int64_t p = 0; p < d.n_train && !found; p++) {
                multi_hot(&d.set, d.ids[0][p], other);
                double lam = -1;
                for (int k = 0; k < 4; k++)
                    if (own[k] > 0 && other[k] == 0)
                        lam = y[k];
                if (lam < 0)
                    lam = 1; // the partner holds every own class: any lambda fits
                int fits = 1;
                for (int k = 0; k < 4; k++)
                    fits &= fabs(y[k] - (lam * own[k] + (1 - lam) * other[k])) < 1e-6;
                found = fits;
                mixed += fits && lam > 0 && lam < 1;
            }
            ck_assert_msg(found, "row %lld is no mix of its clip and a training clip",
                          (long long)i);
        }
        ck_assert(ssm_batcher_next(&d.train, &b, &e) == SSM_OK && !b); // end of the epoch
    }
    ck_assert_msg(mixed > 0, "mixup never mixed");
    audio_data_close(&d);

    // no test manifest and no validation clips: refused by key
    c.data.val_manifest[0] = 0;
    c.data.val_fraction = 0;
    ck_assert_int_eq(audio_data_open(&d, &c.data, 3, 1, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "data.test_manifest: empty"));
    c.data.train_manifest[0] = 0;
    ck_assert_int_eq(audio_data_open(&d, &c.data, 3, 1, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "data.train_manifest: empty"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("audio_manifest");
    TCase *tc = tcase_create("audio_manifest");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reads_manifests_and_label_csv);
    tcase_add_test(tc, bad_manifests_name_the_file_and_entry);
    tcase_add_test(tc, generated_scenes_are_a_readable_deterministic_set);
    tcase_add_test(tc, recipe_gives_multi_hot_and_mixed_targets);
    suite_add_tcase(s, tc);
    return tu_run_suite_in(s, 0, g_root, sizeof g_root, "ssm_audio_manifest");
}
