// Check suite: `ssmkit predict` of a part-segmentation model ($SSMKIT_BIN, default
// build/ssmkit). A tiny segment model (configs/points/parts.yaml shrunk: 128 points, 16
// groups, d_model 32, 3 epochs) is trained on the generated parts set written in
// ShapeNetPart's layout (shapes of 256 points, x y z nx ny nz part), then:
//   - CSV: one row per point of each file (256, twice the model's points), in file order
//     with the file's coordinates; each point's part and probability equal a reference
//     computed here apart: the model run on the file's FPS sample (normalised), the
//     category set, and each file point given its nearest sampled point's prediction,
//     argmax and softmax over the category's parts only; every part within the category's
//     range, the generated set's part names, the category column;
//   - JSON (valid, a "points" entry per point of each file, no part outside the category's)
//     and text (a line per point);
//   - refusals: no --category for a conditioned model (the message lists the categories),
//     an unknown category, a number out of range, --category for a classification recipe.
#include <check.h>

#include "datasets/pc_augment.h"
#include "datasets/pc_cloud.h"
#include "datasets/pc_data.h"
#include "datasets/pc_parts.h"
#include "tasks/head_segment.h"
#include "tasks/task_run.h"
#include "tests/predict_fixture.h"

static char sets_text[1024], data_dir[600], ckpt[700];
static const char *SETS[] = {NULL /* data.path */, "data.shapes_per_class=10",
                             "data.num_points=128", "data.batch_size=8", "data.val_fraction=0.1",
                             "data.num_workers=0", "adapter.group_size=16",
                             "adapter.num_groups=16", "backbone.d_model=32",
                             "backbone.n_layers=2", "task.seg_dim=32", "optim.warmup_steps=20",
                             "run.progress=off", "run.tensorboard=false"};
#define N_SETS ((int)(sizeof SETS / sizeof *SETS))

static void setup(void) {
    pf_setup();
    static char path[700];
    snprintf(data_dir, sizeof data_dir, "%s/parts", fx_dir);
    snprintf(path, sizeof path, "data.path=%s", data_dir);
    SETS[0] = path;
    size_t used = 0;
    for (int i = 0; i < N_SETS; i++)
        used += (size_t)snprintf(sets_text + used, sizeof sets_text - used, " --set %s", SETS[i]);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train configs/points/parts.yaml%s --set train.epochs=3 "
             "--set run.dir=%s --set run.name=s", pf_bin, sets_text, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, sizeof ckpt, "%s/s/last.safetensors", fx_dir);
}

static void teardown(void) { pf_teardown(); }

// The first test shape of category k (synset 9000000k, ShapeNetPart's layout).
static void shape_file(char *out, size_t n, int k) {
    snprintf(out, n, "%s/9000000%d/%s_0001.txt", data_dir, k, PC_PARTS_CATEGORIES[k]);
}

typedef struct {
    int64_t n;          // points
    int32_t *part;      // [n]
    double *prob;       // [n]
} expect;

// What predict must say for file `path` of category `cat`, computed apart from the reader.
static void reference(expect *ex, pc_cloud *raw, const char *path, int cat) {
    ssm_config cfg;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve_checked(&cfg, "configs/points/parts.yaml", SETS, N_SETS,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    pc_data d;
    ck_assert_msg(pc_data_open(&d, &cfg.data, (uint64_t)cfg.run.seed, 0, &e) == SSM_OK, "%s",
                  e.msg);
    task_data_info info = {.input = {2, {d.P, 3}}, .num_classes = d.num_classes,
                           .class_names = (const char *const *)d.train_set.class_names,
                           .num_parts = d.num_parts, .part_range = d.part_range};
    ssm_task *t = NULL;
    ck_assert_msg(task_create(&t, &cfg, &info, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_load_checkpoint(t, ckpt, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(pc_read_points(raw, path, &e) == SSM_OK, "%s", e.msg);
    pc_cloud smp;
    ck_assert(pc_sample(&smp, raw, d.P, PC_SAMPLE_FPS, 0, &e) == SSM_OK);
    real *x = malloc((size_t)(d.P * 3) * sizeof *x);
    for (int64_t i = 0; i < d.P; i++)
        memcpy(x + i * 3, smp.p + i * smp.C, 3 * sizeof *x);
    pc_normalize(x, d.P, 3);
    int32_t cats[1] = {cat};
    ck_assert(ssm_head_segment_set_categories(t->model.head, cats, 1, &e) == SSM_OK);
    const real *lg;
    ck_assert_msg(model_predict(&t->model, x, 1, &lg, &e) == SSM_OK, "%s", e.msg);
    const int64_t V = d.num_parts;
    const int32_t first = d.part_range[2 * cat], count = d.part_range[2 * cat + 1];
    ex->n = raw->n;
    ex->part = malloc((size_t)raw->n * sizeof *ex->part);
    ex->prob = malloc((size_t)raw->n * sizeof *ex->prob);
    for (int64_t j = 0; j < raw->n; j++) {
        int64_t m = 0; // the nearest sampled point (the first of equals)
        double best = INFINITY;
        for (int64_t i = 0; i < d.P; i++) {
            double s = 0;
            for (int c = 0; c < 3; c++) {
                double dd = (double)raw->p[j * raw->C + c] - smp.p[i * smp.C + c];
                s += dd * dd;
            }
            if (s < best) {
                best = s;
                m = i;
            }
        }
        const real *row = lg + m * V;
        int32_t arg = first;
        for (int32_t v = first; v < first + count; v++)
            arg = row[v] > row[arg] ? v : arg;
        double z = 0;
        for (int32_t v = first; v < first + count; v++)
            z += exp((double)row[v] - row[arg]);
        ex->part[j] = arg;
        ex->prob[j] = 1 / z;
    }
    free(x);
    pc_cloud_free(&smp);
    task_free(t);
    pc_data_close(&d);
}

START_TEST(csv_rows_match_model) {
    for (int k = 0; k < PC_PARTS_NUM_CATEGORIES; k += 3) { // table, airplane
        char file[700], cmd[4096];
        shape_file(file, sizeof file, k);
        snprintf(cmd, sizeof cmd, "%s predict configs/points/parts.yaml%s --ckpt %s "
                 "--format csv --category %s %s", pf_bin, sets_text, ckpt,
                 PC_PARTS_CATEGORIES[k], file);
        ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
        expect ex;
        pc_cloud raw;
        reference(&ex, &raw, file, k);
        ck_assert_int_eq(ex.n, 256);
        const char *p = pf_out;
        char cell[512];
        const char *header[] = {"input", "category", "point", "x", "y", "z", "part",
                                "part_name", "probability"};
        for (int c = 0; c < 9; c++) {
            int more = pf_field(&p, cell, sizeof cell);
            ck_assert_str_eq(cell, header[c]);
            ck_assert_int_eq(more, c < 8);
        }
        int64_t rows = 0;
        double worst = 0;
        const int32_t first = PC_PARTS_RANGE[k][0], count = PC_PARTS_RANGE[k][1];
        while (*p) {
            ck_assert_int_lt(rows, ex.n);
            char v[9][512];
            for (int c = 0; c < 9; c++)
                ck_assert_int_eq(pf_field(&p, v[c], sizeof v[c]), c < 8);
            ck_assert_str_eq(v[0], file);
            ck_assert_str_eq(v[1], PC_PARTS_CATEGORIES[k]);
            ck_assert_int_eq(atoll(v[2]), rows);
            for (int c = 0; c < 3; c++)
                ck_assert(fabs(atof(v[3 + c]) - raw.p[rows * raw.C + c]) < 1e-6);
            int part = atoi(v[6]);
            ck_assert_msg(part >= first && part < first + count, "part %d of category %d", part,
                          k);
            ck_assert_int_eq(part, ex.part[rows]);
            ck_assert_str_eq(v[7], PC_PARTS_NAMES[part]);
            double pr = atof(v[8]);
            ck_assert(pr >= 1.0 / count - 1e-9 && pr <= 1);
            worst = fmax(worst, fabs(pr - ex.prob[rows]));
            rows++;
        }
        ck_assert_int_eq(rows, ex.n);
        ck_assert_msg(worst < 1e-5, "probabilities differ by %g", worst);
        free(ex.part);
        free(ex.prob);
        pc_cloud_free(&raw);
    }
}
END_TEST

static int64_t count_of(const char *s, const char *what) {
    int64_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

START_TEST(json_and_text) {
    char a[700], b[700], cmd[4096];
    shape_file(a, sizeof a, 1);
    shape_file(b, sizeof b, 2);
    snprintf(cmd, sizeof cmd, "%s predict configs/points/parts.yaml%s --ckpt %s --format json "
             "--category lamp %s %s", pf_bin, sets_text, ckpt, a, b);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    ck_assert_msg(pf_json_valid(pf_out), "%s", pf_out);
    ck_assert_int_eq(count_of(pf_out, "\"point\":"), 512);
    ck_assert_int_eq(count_of(pf_out, "\"category\":\"lamp\""), 2);
    ck_assert_int_eq(count_of(pf_out, "\"part_name\":"), 512);
    ck_assert_int_eq(count_of(pf_out, "\"part\":9"), 0); // an airplane part: not a lamp's
    snprintf(cmd, sizeof cmd, "%s predict configs/points/parts.yaml%s --ckpt %s --category 1 "
             "%s", pf_bin, sets_text, ckpt, a);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    ck_assert_int_eq(count_of(pf_out, "\n"), 256);
    ck_assert_int_eq(count_of(pf_out, "\t"), 256 * 6);
}
END_TEST

START_TEST(refusals) {
    char a[700], cmd[4096];
    shape_file(a, sizeof a, 0);
    snprintf(cmd, sizeof cmd, "%s predict configs/points/parts.yaml%s --ckpt %s %s", pf_bin,
             sets_text, ckpt, a);
    ck_assert_int_ne(pf_run(cmd), 0);
    ck_assert_msg(strstr(pf_err, "give --category NAME, one of table, lamp, chair, airplane"),
                  "%s", pf_err);
    ck_assert_int_eq(pf_out[0], 0);
    const char *bad[] = {"sofa", "4", "-1"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s predict configs/points/parts.yaml%s --ckpt %s --category "
                 "%s %s", pf_bin, sets_text, ckpt, bad[i], a);
        ck_assert_int_ne(pf_run(cmd), 0);
        ck_assert_msg(strstr(pf_err, "not a category of this model"), "%s", pf_err);
    }
    snprintf(cmd, sizeof cmd, "%s predict configs/points/shapes.yaml --ckpt %s --category "
             "table %s", pf_bin, ckpt, a);
    ck_assert_int_ne(pf_run(cmd), 0);
    ck_assert_msg(strstr(pf_err, "--category: the model segments nothing"), "%s", pf_err);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_seg_predict");
    TCase *tc = tcase_create("predict");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, csv_rows_match_model);
    tcase_add_test(tc, json_and_text);
    tcase_add_test(tc, refusals);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
