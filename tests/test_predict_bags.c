// Check suite: `ssmkit predict` on multiple-instance bags ($SSMKIT_BIN, default
// build/ssmkit), against `ssmkit eval --out` (predictions_test.csv, attention_test.csv) of
// the same checkpoint:
//   - musk layout (configs/mil/musk1.yaml, features standardised with the training bags'
//     statistics, now in the checkpoint's metadata): predict on the whole CSV gives every
//     bag, and the test bags' probabilities and per-instance attention (--attention) equal
//     eval's to 1e-6; one bag written as a plain CSV of features (with a header) predicts
//     the same as in the musk file;
//   - CLAM layout (configs/mil/camelyon16_clam.yaml on a generated slide set, tokens with
//     patch coordinates): predict on the test slides' .h5 files equals eval, and the
//     attention file carries each patch's x, y;
//   - refusals: a corrupt .h5, a CSV for a model that takes coordinates, a CSV of the wrong
//     width, --attention with mean pooling: the file or option named, nonzero exit.
#include <check.h>

#include "datasets/mil_synth.h"
#include "tests/predict_fixture.h"

enum { F = 6 };

static void setup(void) { pf_setup(); }
static void teardown(void) { pf_teardown(); }

// 40 bags of 1..9 instances of F features; a positive bag holds one instance whose first
// feature is large. Returns the rows of bag `keep` (label,bag_id dropped) in *rows.
static void write_musk(char *path, size_t n, int keep, char *rows, size_t cap) {
    char *buf = malloc(1 << 16);
    size_t len = 0, used = 0;
    unsigned s = 7;
    for (int bag = 0; bag < 40; bag++) {
        int pos = bag % 2, k = 1 + (bag * 5) % 9;
        for (int i = 0; i < k; i++) {
            int wit = pos && i == k / 2;
            len += (size_t)sprintf(buf + len, "%d,b%d", wit, bag);
            for (int f = 0; f < F; f++) {
                s = s * 1103515245u + 12345u;
                double v = ((s >> 8) % 2000) / 1000.0 - 1.0 + (wit && f == 0 ? 3.0 : 0.0);
                len += (size_t)sprintf(buf + len, ",%.4f", v);
                if (bag == keep)
                    used += (size_t)snprintf(rows + used, cap - used, f ? ", %.4f" : "%.4f", v);
            }
            len += (size_t)sprintf(buf + len, "\n");
            if (bag == keep)
                used += (size_t)snprintf(rows + used, cap - used, "\n");
        }
    }
    fx_write(path, n, "musk.csv", buf, len);
    free(buf);
}

typedef struct {
    char name[128];
    long long id, len;
    double p[2];
} eval_bag;

// predictions_test.csv of eval --out: bag,name,instances,label,predicted,prob_...
static int read_eval(const char *dir, eval_bag *b, int cap) {
    char path[800];
    snprintf(path, sizeof path, "%s/predictions_test.csv", dir);
    char *text = cf_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    int n = 0;
    const char *line = strchr(text, '\n') + 1;
    while (*line && n < cap) {
        int label, pred;
        ck_assert_int_eq(sscanf(line, "%lld,\"%127[^\"]\",%lld,%d,%d,%lf,%lf", &b[n].id,
                                b[n].name, &b[n].len, &label, &pred, &b[n].p[0], &b[n].p[1]),
                         7);
        n++;
        line = strchr(line, '\n') + 1;
    }
    free(text);
    return n;
}

// eval's attention of bag `id`, instance i (attention_test.csv: bag,instance,attention).
static double eval_attention(const char *text, long long id, long long i) {
    const char *line = strchr(text, '\n') + 1;
    while (*line) {
        long long b, j;
        double a;
        ck_assert_int_eq(sscanf(line, "%lld,%lld,%lf", &b, &j, &a), 3);
        if (b == id && j == i)
            return a;
        line = strchr(line, '\n') + 1;
    }
    return NAN;
}

// predict's attention of (input, sample) instance i: input,sample,instance,attention[,x,y].
static double predict_attention(const char *text, const char *input, const char *sample,
                                long long i, double *xy) {
    const char *p = strchr(text, '\n') + 1;
    char in[600], smp[256], cell[64];
    while (*p) {
        pf_field(&p, in, sizeof in);
        pf_field(&p, smp, sizeof smp);
        pf_field(&p, cell, sizeof cell);
        long long j = atoll(cell);
        int more = pf_field(&p, cell, sizeof cell);
        double a = atof(cell);
        for (int k = 0; more && k < 2; k++) {
            more = pf_field(&p, cell, sizeof cell);
            if (xy)
                xy[k] = atof(cell);
        }
        if (!strcmp(in, input) && !strcmp(smp, sample) && j == i)
            return a;
    }
    return NAN;
}

static const char *MUSK_SETS = "--set backbone.d_model=8 --set backbone.d_state=4 "
                               "--set task.attn_dim=8 --set data.val_fraction=0.2 "
                               "--set data.folds=5 --set adapter.orders=[identity,reverse]";

START_TEST(musk_matches_eval) {
    char csv[600], cmd[4096], att[600], one[600], rows[4096];
    write_musk(csv, sizeof csv, 7, rows, sizeof rows);
    snprintf(cmd, sizeof cmd, "%s train configs/mil/musk1.yaml %s --set data.path=%s "
             "--set train.epochs=3 --set run.dir=%s --set run.name=m", pf_bin, MUSK_SETS, csv,
             fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(cmd, sizeof cmd, "%s eval configs/mil/musk1.yaml %s --set data.path=%s --ckpt "
             "%s/m/last.safetensors --out %s/ev", pf_bin, MUSK_SETS, csv, fx_dir, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    char evdir[700];
    snprintf(evdir, sizeof evdir, "%s/ev", fx_dir);
    eval_bag ev[40];
    int n_ev = read_eval(evdir, ev, 40);
    ck_assert_int_ge(n_ev, 4);
    char path[800];
    snprintf(path, sizeof path, "%s/attention_test.csv", evdir);
    char *ev_att = cf_read_file(path, NULL);
    ck_assert_ptr_nonnull(ev_att);
    // the same config file with its own data path: the checkpoint holds the statistics
    fx_path(att, sizeof att, "attention.csv");
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/musk1.yaml %s --ckpt %s/m/last.safetensors "
             "--format csv --attention %s %s", pf_bin, MUSK_SETS, fx_dir, att, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 40);
    char *pr_att = cf_read_file(att, NULL);
    ck_assert_ptr_nonnull(pr_att);
    ck_assert_ptr_nonnull(strstr(pr_att, "input,sample,instance,attention\n"));
    for (int i = 0; i < n_ev; i++) {
        const pf_row *r = pf_find(&tb, csv, ev[i].name);
        ck_assert_msg(r != NULL, "bag %s", ev[i].name);
        ck_assert_int_eq(r->instances, ev[i].len);
        ck_assert_msg(pf_max_diff(r->v, ev[i].p, 2) < 1e-6, "bag %s: predict %.9g, eval %.9g",
                      ev[i].name, r->v[1], ev[i].p[1]);
        for (long long j = 0; j < ev[i].len; j++) {
            double a = predict_attention(pr_att, csv, ev[i].name, j, NULL);
            double b = eval_attention(ev_att, ev[i].id, j);
            ck_assert_msg(fabs(a - b) < 1e-6, "bag %s instance %lld: %g vs %g", ev[i].name, j,
                          a, b);
        }
    }
    // bag b7 alone, as a CSV of its features with a header line
    const pf_row *b7 = pf_find(&tb, csv, "b7");
    ck_assert_ptr_nonnull(b7);
    double want[2] = {b7->v[0], b7->v[1]};
    long long n7 = b7->instances;
    pf_table_free(&tb);
    char body[4200];
    snprintf(body, sizeof body, "f1,f2,f3,f4,f5,f6\n%s", rows);
    fx_write(one, sizeof one, "bag7.csv", body, SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/musk1.yaml %s --ckpt %s/m/last.safetensors "
             "--format csv %s", pf_bin, MUSK_SETS, fx_dir, one);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 1);
    ck_assert_int_eq(tb.rows[0].instances, n7);
    ck_assert_msg(pf_max_diff(tb.rows[0].v, want, 2) < 1e-6, "%.9g vs %.9g", tb.rows[0].v[1],
                  want[1]);
    pf_table_free(&tb);
    // a CSV of another width, then mean pooling asked for attention
    fx_write(one, sizeof one, "wide.csv", "1,2,3,4,5,6,7\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/musk1.yaml %s --ckpt %s/m/last.safetensors "
             "%s", pf_bin, MUSK_SETS, fx_dir, one);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, one) && strstr(pf_err, "rows of 7 values"), "%s", pf_err);
    fx_write(one, sizeof one, "nan.csv", "1,2,3,x,5,6\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/musk1.yaml %s --ckpt %s/m/last.safetensors "
             "%s", pf_bin, MUSK_SETS, fx_dir, one);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, "nan.csv: line 1: value 4 'x'"), "%s", pf_err);
    snprintf(cmd, sizeof cmd, "%s train configs/mil/musk1.yaml %s --set data.path=%s "
             "--set task.pool=mean --set train.epochs=1 --set run.dir=%s --set run.name=mean",
             pf_bin, MUSK_SETS, csv, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/musk1.yaml %s --set task.pool=mean --ckpt "
             "%s/mean/last.safetensors --attention %s %s", pf_bin, MUSK_SETS, fx_dir, att, csv);
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "attention"), "%s", pf_err);
    free(ev_att);
    free(pr_att);
}
END_TEST

START_TEST(clam_matches_eval) {
    char dir[600], cmd[8192], att[600], sets[2048];
    snprintf(dir, sizeof dir, "%s/slides", fx_dir);
    mil_synth_opts o = {.n_bags = 24, .min_len = 20, .max_len = 80, .F = 8, .min_witness = 2,
                        .max_witness = 4, .shift = 6.0, .positive_fraction = 0.5, .n_splits = 2,
                        .val_fraction = 0.2, .seed = 3};
    ssm_error e = {0};
    ck_assert_msg(mil_synth_write(dir, &o, &e) == SSM_OK, "%s", e.msg);
    snprintf(sets, sizeof sets, "--set data.path=%s/dataset.csv --set data.features_dir=%s "
             "--set data.splits_dir=%s/splits --set backbone.d_model=16 --set backbone.n_layers=1 "
             "--set task.attn_dim=8", dir, dir, dir);
    snprintf(cmd, sizeof cmd, "%s train configs/mil/camelyon16_clam.yaml %s --set train.epochs=2 "
             "--set run.dir=%s --set run.name=c", pf_bin, sets, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(cmd, sizeof cmd, "%s eval configs/mil/camelyon16_clam.yaml %s --ckpt "
             "%s/c/last.safetensors --out %s/ev", pf_bin, sets, fx_dir, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    char evdir[700], path[5000];
    snprintf(evdir, sizeof evdir, "%s/ev", fx_dir);
    eval_bag ev[24];
    int n_ev = read_eval(evdir, ev, 24);
    ck_assert_int_ge(n_ev, 4);
    snprintf(path, sizeof path, "%s/attention_test.csv", evdir);
    char *ev_att = cf_read_file(path, NULL);
    fx_path(att, sizeof att, "attention.csv");
    // the config names no data that exists: the checkpoint's metadata must be enough
    size_t used = (size_t)snprintf(cmd, sizeof cmd, "%s predict configs/mil/camelyon16_clam.yaml "
                                   "--set backbone.d_model=16 --set backbone.n_layers=1 --set "
                                   "task.attn_dim=8 --ckpt %s/c/last.safetensors --format json "
                                   "--attention %s", pf_bin, fx_dir, att);
    for (int i = 0; i < n_ev; i++)
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, " %s/h5_files/%s.h5", dir,
                                 ev[i].name);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    ck_assert_msg(pf_json_valid(pf_out), "not JSON:\n%s", pf_out);
    ck_assert_ptr_nonnull(strstr(pf_out, "\"classes\":[\"normal\",\"tumor\"]"));
    char *pr_att = cf_read_file(att, NULL);
    ck_assert_ptr_nonnull(strstr(pr_att, "input,sample,instance,attention,x,y\n"));
    for (int i = 0; i < n_ev; i++) {
        double p[PF_MAX_V];
        ck_assert_int_eq(pf_json_probabilities(pf_out, i, p, PF_MAX_V), 2);
        ck_assert_msg(pf_max_diff(p, ev[i].p, 2) < 1e-6, "slide %s: %.9g vs %.9g", ev[i].name,
                      p[1], ev[i].p[1]);
        snprintf(path, sizeof path, "%s/h5_files/%s.h5", dir, ev[i].name);
        for (long long j = 0; j < ev[i].len; j++) {
            double xy[2] = {-1, -1};
            double a = predict_attention(pr_att, path, "", j, xy);
            ck_assert_msg(fabs(a - eval_attention(ev_att, ev[i].id, j)) < 1e-6, "slide %s, %lld",
                          ev[i].name, j);
            ck_assert(xy[0] >= 0 && xy[1] >= 0 && fmod(xy[0], 256) == 0);
        }
    }
    free(ev_att);
    free(pr_att);
    // a corrupt .h5, and a CSV for a model that reads coordinates
    char bad[600];
    fx_write(bad, sizeof bad, "slide.h5", "garbage, not HDF5\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/camelyon16_clam.yaml %s --ckpt "
             "%s/c/last.safetensors %s", pf_bin, sets, fx_dir, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, bad), "%s", pf_err);
    fx_write(bad, sizeof bad, "feats.csv", "1,2,3,4,5,6,7,8\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/camelyon16_clam.yaml %s --ckpt "
             "%s/c/last.safetensors %s", pf_bin, sets, fx_dir, bad);
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, bad) && strstr(pf_err, "coordinates"), "%s", pf_err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict_bags");
    TCase *tc = tcase_create("bags");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, musk_matches_eval);
    tcase_add_test(tc, clam_matches_eval);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
