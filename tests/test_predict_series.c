// Check suite: `ssmkit predict` on time series ($SSMKIT_BIN, default build/ssmkit). A tiny
// forecaster (configs/series/etth1_96.yaml shrunk: series_variate + RevIN, lookback 24,
// horizon 8, features M) is trained on a generated hourly CSV, then:
//   - the forecast of the window ending at a data row (--at, and a history file holding
//     only that window, its columns reordered and one more) equals the model run in-process
//     on the evaluation's window (series_window of the test split), in the data's units
//     (the scaler undone), to 1e-7 relative (the 9 printed digits); the CSV has a header
//     `date,<columns in the input's order>`, horizon rows, the timestamps one hour apart
//     after the window's last;
//   - several inputs are blocks separated by one empty line; JSON is one valid document
//     with the same numbers; --no-dates, an integer index column and a column of names
//     give the steps or the extrapolated index;
//   - refusals name the file: too few rows (and how many are needed), missing columns (by
//     name), a non-numeric cell (file:line: column), an uneven time column (file:line),
//     --at past the end;
//   - task regress (configs/series/etth1_regress_ot.yaml, features MS): one row at step
//     horizon, the target column only, equal to the model's value;
//   - a model with calendar tokens (data.time_features) forecasts as in-process.
// Series classification: tests/test_predict_series_class.c.
#include <check.h>
#include <math.h>
#include <time.h>

#include "datasets/series_data.h"
#include "tasks/task_run.h"
#include "tests/predict_fixture.h"

enum { L = 24, H = 8, ROWS = 400 };
#define T0 1467331200 // 2016-07-01 00:00:00 UTC: row 0

static char csv[600], ckpt[700], sets_text[1024];
static const char *SETS[] = {NULL /* data.path */, "data.name=csv", "data.lookback=24",
                             "data.horizon=8", "backbone.d_model=8", "backbone.n_layers=1",
                             "backbone.d_state=4", "data.batch_size=8", "data.num_workers=0"};
#define N_SETS ((int)(sizeof SETS / sizeof *SETS))

static double col_a(int t) { return sin(t / 4.0) * 3 + 10; }
static double col_b(int t) { return cos(t / 7.0) + t / 40.0; }
static double col_ot(int t) { return sin(t / 3.0) * cos(t / 11.0) * 20 + 30; }

static void stamp(char *out, size_t n, long long t) {
    time_t s = (time_t)(T0 + t * 3600);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

// Rows [r0, r1) of the generated series: "date,a,b,OT" (or the columns reordered with an
// extra one: "date,OT,extra,a").
static char *series_text(int r0, int r1, int reordered) {
    char *buf = malloc((size_t)(r1 - r0 + 1) * 100 + 64);
    size_t n = (size_t)sprintf(buf, reordered ? "date,OT,extra,a,b\n" : "date,a,b,OT\n");
    for (int t = r0; t < r1; t++) {
        char d[32];
        stamp(d, sizeof d, t);
        n += reordered ? (size_t)sprintf(buf + n, "%s,%.5f,7,%.5f,%.5f\n", d, col_ot(t), col_a(t),
                                         col_b(t))
                       : (size_t)sprintf(buf + n, "%s,%.5f,%.5f,%.5f\n", d, col_a(t), col_b(t),
                                         col_ot(t));
    }
    return buf;
}

static void setup(void) {
    pf_setup();
    char *text = series_text(0, ROWS, 0);
    fx_write(csv, sizeof csv, "s.csv", text, SIZE_MAX);
    free(text);
    static char path[700];
    snprintf(path, sizeof path, "data.path=%s", csv);
    SETS[0] = path;
    size_t used = 0;
    for (int i = 0; i < N_SETS; i++)
        used += (size_t)snprintf(sets_text + used, sizeof sets_text - used, " --set %s", SETS[i]);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train configs/series/etth1_96.yaml%s --set train.epochs=1 "
             "--set train.max_steps=6 --set run.dir=%s --set run.name=f", pf_bin, sets_text,
             fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, sizeof ckpt, "%s/f/best.safetensors", fx_dir);
}

static void teardown(void) { pf_teardown(); }

// A forecast CSV block: header cells and rows of (time, values).
typedef struct {
    int ncol, nrow;
    char cols[8][64];
    char time[64][40];
    double v[64][8];
} fc_block;

// Parses the block at *p (up to an empty line or the end); *p moves to that line.
static void read_block(const char **p, fc_block *b) {
    memset(b, 0, sizeof *b);
    char cell[512];
    int more = 1;
    while (more && b->ncol < 8) {
        more = pf_field(p, cell, sizeof cell);
        snprintf(b->cols[b->ncol++], sizeof b->cols[0], "%.63s", cell);
    }
    while (**p && **p != '\n' && b->nrow < 64) {
        int c = 0;
        more = 1;
        while (more) {
            more = pf_field(p, cell, sizeof cell);
            if (c == 0)
                snprintf(b->time[b->nrow], sizeof b->time[0], "%.39s", cell);
            else if (c < 8)
                b->v[b->nrow][c - 1] = atof(cell);
            c++;
        }
        ck_assert_int_eq(c, b->ncol);
        b->nrow++;
    }
}

// The model in-process on test window i: the forecast in the data's units, [H, out_vars]
// (the dataset's column order: the target last); *end_row = the window's last data row
// (1-based).
static void model_window(const char *config, const char *const *sets, int n_sets, int64_t i,
                         double *want, int64_t *end_row, int64_t *out_vars, char names[][64],
                         const char *ckpt_path) {
    ssm_config cfg;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve_checked(&cfg, config, sets, n_sets, task_check_config,
                                             &e) == SSM_OK, "%s", e.msg);
    series_data d;
    ck_assert_msg(series_data_open(&d, &cfg.data, (uint64_t)cfg.run.seed, 1, &e) == SSM_OK, "%s",
                  e.msg);
    task_data_info info = {.input = {2, {d.T, d.x_vars}}, .horizon = d.horizon,
                           .out_vars = d.out_vars, .out_std = d.out_std,
                           .time_features = d.time_feats};
    ssm_task *t = NULL;
    ck_assert_msg(task_create(&t, &cfg, &info, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_load_checkpoint(t, ckpt_path, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    const series_split *sp = &d.split[2];
    if (i < 0)
        i += sp->count;
    real x[L * 8], y[H * 8];
    ck_assert_msg(series_window(x, y, sp, i, &e) == SSM_OK, "%s", e.msg);
    const real *out;
    ck_assert_msg(model_predict(&t->model, x, 1, &out, &e) == SSM_OK, "%s", e.msg);
    const series_dataset *ds = &d.ds;
    const int64_t K = t->model.K, V = d.out_vars;
    for (int64_t k = 0; k < K; k++) {
        const int64_t col = ds->vars - V + k % V;
        want[k] = (double)out[k] * ds->std[col] + ds->mean[col];
    }
    for (int64_t k = 0; k < V; k++)
        snprintf(names[k], 64, "%s", ds->names[ds->vars - V + k]);
    *end_row = sp->begin + i * ds->stride + ds->lookback;
    *out_vars = V;
    task_free(t);
    series_data_close(&d);
}

static double worst; // the largest relative difference seen (printed by forecast_matches_model)

static int close_to(double a, double b) {
    worst = fmax(worst, fabs(a - b) / (1 + fabs(b)));
    return fabs(a - b) <= 1e-7 * (1 + fabs(b));
}

// Column `name` of block b, or -1.
static int block_col(const fc_block *b, const char *name) {
    for (int c = 1; c < b->ncol; c++)
        if (!strcmp(b->cols[c], name))
            return c - 1;
    return -1;
}

// Block b holds the forecast want [rows, V] (names[V]) at hourly stamps after end_row.
static void check_block(const fc_block *b, const double *want, int rows, int64_t V,
                        char names[][64], int64_t end_row, int first_step) {
    ck_assert_str_eq(b->cols[0], "date");
    ck_assert_int_eq(b->ncol, V + 1);
    ck_assert_int_eq(b->nrow, rows);
    for (int r = 0; r < rows; r++) {
        char d[40];
        stamp(d, sizeof d, end_row - 1 + first_step + r); // row end_row is 0-based end_row - 1
        ck_assert_str_eq(b->time[r], d);
        for (int64_t k = 0; k < V; k++) {
            int c = block_col(b, names[k]);
            ck_assert_msg(c >= 0, "no column %s", names[k]);
            ck_assert_msg(close_to(b->v[r][c], want[r * V + k]), "row %d %s: %.9g, model %.9g",
                          r, names[k], b->v[r][c], want[r * V + k]);
        }
    }
}

START_TEST(forecast_matches_model) {
    const int64_t windows[] = {0, 17, -1};
    for (int w = 0; w < 3; w++) {
        double want[H * 8];
        int64_t end_row, V;
        char names[8][64];
        model_window("configs/series/etth1_96.yaml", SETS, N_SETS, windows[w], want, &end_row, &V,
                     names, ckpt);
        ck_assert_int_eq(V, 3);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s --at %lld "
                 "%s", pf_bin, sets_text, ckpt, (long long)end_row, csv);
        ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
        const char *p = pf_out;
        fc_block b;
        read_block(&p, &b);
        ck_assert_str_eq(b.cols[1], "a"); // the input's order
        ck_assert_str_eq(b.cols[3], "OT");
        check_block(&b, want, H, V, names, end_row, 1);
        ck_assert_str_eq(p, "");
        // a history file of that window alone, columns reordered, one column more
        char hist[600];
        char *text = series_text((int)end_row - L, (int)end_row, 1);
        fx_write(hist, sizeof hist, "hist.csv", text, SIZE_MAX);
        free(text);
        snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s --format "
                 "csv %s", pf_bin, sets_text, ckpt, hist);
        ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
        p = pf_out;
        read_block(&p, &b);
        ck_assert_str_eq(b.cols[1], "OT");
        ck_assert_str_eq(b.cols[2], "a");
        ck_assert_str_eq(b.cols[3], "b");
        check_block(&b, want, H, V, names, end_row, 1);
    }
    fprintf(stderr, "forecast: predict vs the model in-process: max |diff| / (1 + |x|) = %.3g "
            "(values printed with 9 digits)\n", worst);
}
END_TEST

// A model trained with calendar tokens (data.time_features: S-Mamba's layout): predict
// makes each history row's 4 calendar features from its date, as the dataset does, and the
// forecast equals the model's on the same window in-process.
START_TEST(forecast_with_calendar_tokens) {
    const char *sets[N_SETS + 1];
    for (int i = 0; i < N_SETS; i++)
        sets[i] = SETS[i];
    sets[N_SETS] = "data.time_features=true";
    char cmd[4096], tckpt[700];
    snprintf(cmd, sizeof cmd, "%s train configs/series/etth1_96.yaml%s --set "
             "data.time_features=true --set train.epochs=1 --set train.max_steps=6 --set "
             "run.dir=%s --set run.name=ft", pf_bin, sets_text, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(tckpt, sizeof tckpt, "%s/ft/best.safetensors", fx_dir);
    double want[H * 8];
    int64_t end_row, V;
    char names[8][64];
    model_window("configs/series/etth1_96.yaml", sets, N_SETS + 1, 17, want, &end_row, &V, names,
                 tckpt);
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --set "
             "data.time_features=true --ckpt %s --at %lld %s", pf_bin, sets_text, tckpt,
             (long long)end_row, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    const char *p = pf_out;
    fc_block b;
    read_block(&p, &b);
    check_block(&b, want, H, V, names, end_row, 1);
    // the metadata, not the config, says the model reads calendar tokens
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s --at %lld %s",
             pf_bin, sets_text, tckpt, (long long)end_row, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    p = pf_out;
    read_block(&p, &b);
    check_block(&b, want, H, V, names, end_row, 1);
}
END_TEST

START_TEST(blocks_and_json) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s %s %s", pf_bin,
             sets_text, ckpt, csv, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    const char *p = pf_out;
    fc_block a, b;
    read_block(&p, &a);
    ck_assert_int_eq(*p, '\n'); // one empty line between the blocks
    p++;
    read_block(&p, &b);
    ck_assert_str_eq(p, "");
    ck_assert_int_eq(a.nrow, H);
    ck_assert_int_eq(b.nrow, H);
    char last[40];
    stamp(last, sizeof last, ROWS); // the first future step after row 399
    ck_assert_str_eq(a.time[0], last);
    ck_assert_str_eq(b.time[0], last);
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s --format json "
             "%s %s", pf_bin, sets_text, ckpt, csv, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    ck_assert_msg(pf_json_valid(pf_out), "%s", pf_out);
    ck_assert_ptr_nonnull(strstr(pf_out, "\"task\":\"forecast\",\"horizon\":8,\"forecasts\":["));
    ck_assert_ptr_nonnull(strstr(pf_out, "\"history_end_row\":400,\"time_column\":\"date\","
                                         "\"columns\":[\"a\",\"b\",\"OT\"],\"times\":[\""));
    ck_assert_ptr_nonnull(strstr(pf_out, last));
    // the values of the second forecast, as the CSV's
    const char *v = strstr(pf_out, "\"values\":[");
    ck_assert_ptr_nonnull(v);
    v = strstr(v + 1, "\"values\":[");
    ck_assert_ptr_nonnull(v);
    v += strlen("\"values\":[");
    for (int r = 0; r < H; r++) {
        ck_assert_int_eq(*v, '[');
        v++;
        for (int c = 0; c < 3; c++) {
            char *end;
            double x = strtod(v, &end);
            ck_assert_msg(x == b.v[r][c], "row %d col %d: json %.9g, csv %.9g", r, c, x, b.v[r][c]);
            v = end + 1; // past ',' or ']'
        }
        if (*v == ',')
            v++;
    }
}
END_TEST

START_TEST(steps_and_index) {
    char cmd[4096], idx[600], names[600];
    // an integer index first column, every 5; and a column of names
    char *buf = malloc(ROWS * 100);
    for (int kind = 0; kind < 2; kind++) {
        size_t n = (size_t)sprintf(buf, kind ? "label,a,b,OT\n" : "t,a,b,OT\n");
        for (int t = 0; t < 40; t++)
            n += kind ? (size_t)sprintf(buf + n, "w%d,%.5f,%.5f,%.5f\n", t, col_a(t), col_b(t),
                                        col_ot(t))
                      : (size_t)sprintf(buf + n, "%d,%.5f,%.5f,%.5f\n", 1000 + 5 * t, col_a(t),
                                        col_b(t), col_ot(t));
        fx_write(kind ? names : idx, 600, kind ? "names.csv" : "idx.csv", buf, n);
    }
    free(buf);
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s %s %s", pf_bin,
             sets_text, ckpt, idx, names);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    const char *p = pf_out;
    fc_block a, b;
    read_block(&p, &a);
    ck_assert_int_eq(*p++, '\n');
    read_block(&p, &b);
    ck_assert_str_eq(p, "");
    ck_assert_str_eq(a.cols[0], "t");
    ck_assert_str_eq(b.cols[0], "step");
    for (int r = 0; r < H; r++) {
        char want[32];
        snprintf(want, sizeof want, "%d", 1000 + 5 * (40 + r));
        ck_assert_str_eq(a.time[r], want);
        snprintf(want, sizeof want, "%d", r + 1);
        ck_assert_str_eq(b.time[r], want);
        for (int c = 0; c < 3; c++) // the same rows: the same forecast
            ck_assert(a.v[r][c] == b.v[r][c]);
    }
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s --no-dates "
             "--format json %s", pf_bin, sets_text, ckpt, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    ck_assert_msg(pf_json_valid(pf_out), "%s", pf_out);
    ck_assert_ptr_nonnull(strstr(pf_out, "\"time_column\":null,\"columns\":[\"a\",\"b\",\"OT\"],"
                                         "\"steps\":[1,2,3,4,5,6,7,8],\"values\":[["));
}
END_TEST

// Runs predict on `file` (written from text) expecting exit status rc and `want` in stderr.
static void expect_refusal(const char *name, const char *text, const char *extra, int rc,
                           const char *want) {
    char path[600], cmd[4096], msg[700];
    fx_write(path, sizeof path, name, text, SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_96.yaml%s --ckpt %s %s %s", pf_bin,
             sets_text, ckpt, extra, path);
    ck_assert_int_eq(pf_run(cmd), rc);
    snprintf(msg, sizeof msg, want, path);
    ck_assert_msg(strstr(pf_err, msg), "want '%s' in: %s", msg, pf_err);
    ck_assert_str_eq(pf_out, "");
}

START_TEST(refusals) {
    char *text = series_text(0, 10, 0);
    expect_refusal("short.csv", text, "", 1,
                   "%s: 10 data rows; the model forecasts from the last 24 (data_lookback)");
    free(text);
    text = series_text(0, 30, 0);
    expect_refusal("at.csv", text, "--at 20", 1, "%s: 20 data rows up to --at;");
    expect_refusal("past.csv", text, "--at 31", 2, "%s: --at 31: the file has 30 data rows");
    // a missing row in the window: line 12 (row 10) is gone
    char *cut = strdup(text), *l = cut;
    for (int i = 0; i < 11; i++)
        l = strchr(l, '\n') + 1;
    memmove(l, strchr(l, '\n') + 1, strlen(strchr(l, '\n') + 1) + 1);
    expect_refusal("gap.csv", cut, "", 1, "%s:12: column 1 ('date'): '2016-07-01 11:00:00' follows "
                   "'2016-07-01 09:00:00' by 7200 s");
    free(cut);
    // a non-numeric cell: line 6, column 3 (b)
    char *bad = strdup(text);
    l = bad;
    for (int i = 0; i < 5; i++)
        l = strchr(l, '\n') + 1;
    char *c3 = strchr(strchr(l, ',') + 1, ',') + 1;
    c3[0] = 'x';
    expect_refusal("bad.csv", bad, "", 1, "%s:6: column 3 ('b'): expected a finite number");
    free(bad);
    free(text);
    expect_refusal("missing.csv", "date,OT,a\n2016-07-01 00:00:00,1,2\n", "", 1,
                   "%s: missing column 'b'; the model reads 3 columns by name");
    expect_refusal("none.csv", "time,x,y\n1,2,3\n", "", 1, "%s: missing columns 'a', 'b', 'OT'");
}
END_TEST

START_TEST(regress_one_row) {
    static const char *RSETS[] = {NULL, "data.name=csv", "data.lookback=24", "data.horizon=8",
                                  "backbone.d_model=8", "backbone.n_layers=1",
                                  "backbone.d_state=4", "data.batch_size=8",
                                  "data.num_workers=0"};
    RSETS[0] = SETS[0];
    char sets[1024], cmd[4096];
    size_t used = 0;
    for (int i = 0; i < N_SETS; i++)
        used += (size_t)snprintf(sets + used, sizeof sets - used, " --set %s", RSETS[i]);
    snprintf(cmd, sizeof cmd, "%s train configs/series/etth1_regress_ot.yaml%s --set "
             "train.epochs=1 --set train.max_steps=6 --set run.dir=%s --set run.name=r", pf_bin,
             sets, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, sizeof ckpt, "%s/r/best.safetensors", fx_dir);
    double want[8];
    int64_t end_row, V;
    char names[8][64];
    model_window("configs/series/etth1_regress_ot.yaml", RSETS, N_SETS, 5, want, &end_row, &V,
                 names, ckpt);
    ck_assert_int_eq(V, 1);
    ck_assert_str_eq(names[0], "OT");
    snprintf(cmd, sizeof cmd, "%s predict configs/series/etth1_regress_ot.yaml%s --ckpt %s --at "
             "%lld %s", pf_bin, sets, ckpt, (long long)end_row, csv);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    const char *p = pf_out;
    fc_block b;
    read_block(&p, &b);
    check_block(&b, want, 1, 1, names, end_row, H); // the horizon's last step
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict_series");
    TCase *tc = tcase_create("predict_series");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, forecast_matches_model);
    tcase_add_test(tc, forecast_with_calendar_tokens);
    tcase_add_test(tc, blocks_and_json);
    tcase_add_test(tc, steps_and_index);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, regress_one_row);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    (void)pf_tone;
    (void)pf_write_wav;
    (void)pf_json_probabilities;
    return failed ? 1 : 0;
}
