// Check suite: the time-series pieces of the model side — RevIN (statistics
// against hand-computed values, norm -> denorm round trip), the forecast loss
// and metrics against hand-computed values, the two series adapters against
// naive loops written here (incl. PatchTST's end padding and channel
// independence), the UCR/forecast data glue, and an end-to-end tiny
// forecasting run on a generated series that must beat the naive "repeat the
// last value" forecast's test MSE by a factor of 2.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/revin.h"
#include "core/config.h"
#include "datasets/series_data.h"
#include "tasks/loss.h"
#include "tasks/task_run.h"
#include "tasks/train.h"
#include "tests/series_fixture.h"

static char csv_path[512];
#include "tests/util/testutil.h"

START_TEST(revin_stats_hand_computed) {
    // one sample, T = 4, V = 2: column 0 = 1 2 3 6 (mean 3, var 14/4), column 1 constant 5
    real x[8] = {1, 5, 2, 5, 3, 5, 6, 5}, mean[2], sd[2];
    ssm_revin_stats(mean, sd, x, 1, 4, 2);
    ck_assert(fabs(mean[0] - 3) < 1e-6);
    ck_assert(fabs(sd[0] - sqrt(3.5 + 1e-5)) < 1e-6);
    ck_assert(fabs(mean[1] - 5) < 1e-6);
    ck_assert(fabs(sd[1] - sqrt(1e-5)) < 1e-7); // a constant window: std = sqrt(eps), no division by 0
}
END_TEST

START_TEST(revin_round_trip) {
    const int64_t B = 3, T = 20, V = 4;
    for (int affine = 0; affine <= 1; affine++) {
        ssm_params p;
        ssm_params_init(&p);
        ssm_error e;
        ssm_revin rv;
        ck_assert_int_eq(ssm_revin_declare(&rv, &p, "", T, V, affine, &e), SSM_OK);
        ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
        ck_assert_int_eq((int64_t)p.count, 2 * affine);
        uint64_t st = 9;
        if (affine) {
            tu_fill_uniform(p.data, p.total, 0.5, 1.5, &st);
            for (int64_t v = 0; v < V; v++)
                ck_assert(p.items[0].flags & SSM_PARAM_NO_DECAY);
        }
        ssm_arena ar;
        ssm_arena_init(&ar);
        ssm_revin_plan(&rv, &ar, B);
        ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
        ssm_revin_plan(&rv, &ar, B);
        real x[B * T * V], xn[B * T * V], back[B * T * V];
        tu_fill_uniform(x, (size_t)(B * T * V), 20, 40, &st); // a level far from 0
        ssm_revin_norm_forward(&rv, &p, xn, x, B);
        if (!affine) { // each (sample, variate) column has mean 0 and variance ~1
            for (int64_t b = 0; b < B; b++)
                for (int64_t v = 0; v < V; v++) {
                    double s = 0, q = 0;
                    for (int64_t t = 0; t < T; t++)
                        s += xn[(b * T + t) * V + v];
                    for (int64_t t = 0; t < T; t++)
                        q += pow(xn[(b * T + t) * V + v] - s / T, 2);
                    ck_assert(fabs(s / T) < 1e-5);
                    ck_assert(fabs(q / T - 1) < 1e-3);
                }
        }
        // the denorm of the normalised window (H = T) is the window
        ssm_revin_denorm_forward(&rv, &p, back, xn, B, T);
        ck_assert_msg(tu_max_abs_diff(back, x, (size_t)(B * T * V)) < 1e-4, "affine %d: %g", affine,
                      tu_max_abs_diff(back, x, (size_t)(B * T * V)));
        ssm_arena_free(&ar);
        ssm_params_free(&p);
    }
}
END_TEST

START_TEST(forecast_loss_and_metrics_hand_computed) {
    // B = 1, H = 2, Vout = 1 target: the forecast head's output is the target column only
    real pred[2] = {1, 3}, y[2] = {2, 1}, losses[2]; // errors -1 and 2
    ssm_targets t = {.values = y};
    loss_spec mse = {LOSS_MSE, 0}, mae = {LOSS_MAE, 0};
    double l;
    loss_forward(&mse, &l, losses, NULL, pred, &t, 1, 2);
    ck_assert(fabs(l - 2.5) < 1e-12); // (1 + 4) / 2
    loss_forward(&mae, &l, losses, NULL, pred, &t, 1, 2);
    ck_assert(fabs(l - 1.5) < 1e-12); // (1 + 2) / 2
    real d[2] = {0}, dl[1];
    loss_backward(&mse, d, dl, NULL, pred, &t, 1, 2); // 2 * err / n
    ck_assert(fabs(d[0] + 1) < 1e-7 && fabs(d[1] - 2) < 1e-7);
    memset(d, 0, sizeof d);
    loss_backward(&mae, d, dl, NULL, pred, &t, 1, 2); // sign(err) / n
    ck_assert(fabs(d[0] + 0.5) < 1e-7 && fabs(d[1] - 0.5) < 1e-7);
    value_metrics vm;
    double sd[1] = {2};
    ssm_error e;
    ck_assert_int_eq(value_metrics_init(&vm, 1, sd, &e), SSM_OK);
    value_metrics_add(&vm, pred, y, 2);
    ck_assert(fabs(vm.sse - 5) < 1e-12 && fabs(vm.sae - 3) < 1e-12);
    ck_assert(fabs(vm.sse_orig - 20) < 1e-12 && fabs(vm.sae_orig - 6) < 1e-12); // in units: -2, 4
    task_metrics m = {0};
    value_metrics_report(&vm, 0, &m);
    ck_assert(fabs(task_metrics_get(&m, "mse") - 2.5) < 1e-12);
    ck_assert(fabs(task_metrics_get(&m, "mae_orig") - 3) < 1e-12);
    value_metrics_free(&vm);
}
END_TEST

static ssm_adapter *make(const char *name, int64_t T, int64_t V, int64_t D, int64_t p, int64_t s,
                         ssm_params *P, ssm_arena *ar, int64_t B) {
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = p;
    o.stride = s;
    ssm_input_shape in = {2, {T, V}};
    ssm_error e;
    ssm_adapter *a;
    ssm_params_init(P);
    ck_assert_msg(ssm_adapter_create(&a, name, &o, &in, D, P, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(ssm_params_finalize(P, &e), SSM_OK);
    uint64_t st = 3;
    tu_fill_uniform(P->data, P->total, -1, 1, &st);
    ssm_arena_init(ar);
    ck_assert_int_eq(ssm_adapter_plan(a, ar, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_arena_commit(ar, &e), SSM_OK);
    ck_assert_int_eq(ssm_adapter_plan(a, ar, B, &e), SSM_OK);
    return a;
}

START_TEST(series_variate_forward_naive) {
    const int64_t B = 2, T = 5, V = 3, D = 4;
    ssm_params P;
    ssm_arena ar;
    ssm_adapter *a = make("series_variate", T, V, D, 0, 0, &P, &ar, B);
    ck_assert_int_eq(a->seq_len, V);
    ck_assert_int_eq(a->n_seqs, 1);
    ck_assert_int_eq(a->n_orders, 2);
    real x[B * T * V], tok[B * V * D];
    int32_t ord[2 * B * V];
    uint64_t st = 5;
    tu_fill_uniform(x, (size_t)(B * T * V), -1, 1, &st);
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(a, &P, tok, ord, x, B, &e), SSM_OK);
    const real *W = P.data + P.items[0].offset, *bias = P.data + P.items[1].offset;
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++)
            for (int64_t d = 0; d < D; d++) {
                double s = bias[d];
                for (int64_t t = 0; t < T; t++)
                    s += W[d * T + t] * x[(b * T + t) * V + v];
                ck_assert(fabs(tok[(b * V + v) * D + d] - s) < 1e-5);
            }
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < V; l++) {
            ck_assert_int_eq(ord[b * V + l], l);                 // forward
            ck_assert_int_eq(ord[(B + b) * V + l], V - 1 - l);   // reverse
        }
    x[7] = NAN;
    ck_assert_int_eq(ssm_adapter_forward(a, &P, tok, ord, x, B, &e), SSM_EDATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "sample 0"));
    ssm_adapter_free(a);
    ssm_arena_free(&ar);
    ssm_params_free(&P);
}
END_TEST

START_TEST(series_patch_forward_naive) {
    // T = 10, p = 4, s = 3: padded to 13 (two repeats of x[9]), P = (13 - 4) / 3 + 1 = 4 patches
    const int64_t B = 2, T = 10, V = 2, D = 3, p = 4, s = 3, P = 4;
    ssm_params Pm;
    ssm_arena ar;
    ssm_adapter *a = make("series_patch", T, V, D, p, s, &Pm, &ar, B);
    ck_assert_int_eq(a->seq_len, P);
    ck_assert_int_eq(a->n_seqs, V);
    real x[B * T * V], tok[B * V * P * D];
    int32_t ord[2 * B * V * P];
    uint64_t st = 6;
    tu_fill_uniform(x, (size_t)(B * T * V), -1, 1, &st);
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(a, &Pm, tok, ord, x, B, &e), SSM_OK);
    const real *W = Pm.data + Pm.items[0].offset, *bias = Pm.data + Pm.items[1].offset,
               *pos = Pm.data + Pm.items[2].offset;
    ck_assert_str_eq(Pm.items[2].name, "W_pos");
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++)
            for (int64_t k = 0; k < P; k++)
                for (int64_t d = 0; d < D; d++) {
                    double acc = bias[d] + pos[k * D + d];
                    for (int64_t j = 0; j < p; j++) {
                        int64_t t = k * s + j;
                        if (t > T - 1)
                            t = T - 1; // replication padding at the end
                        acc += W[d * p + j] * x[(b * T + t) * V + v];
                    }
                    ck_assert(fabs(tok[(((b * V + v) * P) + k) * D + d] - acc) < 1e-5);
                }
    for (int64_t r = 0; r < B * V; r++)
        for (int64_t l = 0; l < P; l++) {
            ck_assert_int_eq(ord[r * P + l], l);
            ck_assert_int_eq(ord[(B * V + r) * P + l], P - 1 - l);
        }
    ssm_adapter_free(a);
    ssm_arena_free(&ar);
    ssm_params_free(&Pm);
    // refusals name the adapter and what was expected
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 40;
    o.stride = 1; // 10 + 1 padded steps: no room for a patch of 40
    ssm_input_shape in = {2, {10, 2}};
    ssm_params_init(&Pm);
    ck_assert_int_eq(ssm_adapter_create(&a, "series_patch", &o, &in, 4, &Pm, "", &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "series_patch"));
    o.patch_size = 4;
    snprintf(o.orders[0], SSM_ADAPTER_NAME_MAX, "snake");
    o.n_orders = 1;
    ck_assert_int_eq(ssm_adapter_create(&a, "series_variate", &o, &in, 4, &Pm, "", &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "known: forward"));
    ssm_input_shape img = {3, {1, 8, 8}};
    o.n_orders = 0;
    ck_assert_int_eq(ssm_adapter_create(&a, "series_variate", &o, &img, 4, &Pm, "", &e), SSM_EINVAL);
    ssm_params_free(&Pm);
}
END_TEST

// A generated 2-variate series: a daily cycle and a faster one with a slow
// trend, plus a little deterministic noise. Periodic with periods <= 24, so a
// 48-step window determines the next 12 — but "repeat the last value" does not.
static void write_series_csv(const char *name, int64_t rows) {
    char *buf = malloc((size_t)rows * 64 + 64);
    size_t n = (size_t)sprintf(buf, "date,a,OT\n");
    uint64_t st = 1;
    for (int64_t t = 0; t < rows; t++) {
        double a = sin(2 * M_PI * t / 24.0) + 0.05 * (tu_uniform(&st) - 0.5);
        double b = 0.5 * cos(2 * M_PI * t / 12.0) + t / (double)rows + 0.05 * (tu_uniform(&st) - 0.5);
        n += (size_t)sprintf(buf + n, "t%lld,%.6f,%.6f\n", (long long)t, a, b);
    }
    fx_write(csv_path, sizeof csv_path, name, buf, n);
    free(buf);
}

START_TEST(end_to_end_beats_repeat_last) {
    fx_init();
    write_series_csv("gen.csv", 700);
    ssm_config c;
    ssm_config_defaults(&c);
    c.data.name = SSM_DATA_CSV;
    snprintf(c.data.path, sizeof c.data.path, "%s", csv_path);
    c.data.lookback = 48;
    c.data.horizon = 12;
    c.data.features = SSM_FEATURES_M;
    c.data.batch_size = 16;
    c.data.num_workers = 0;
    snprintf(c.adapter.name, sizeof c.adapter.name, "series_variate");
    c.adapter.revin = true;
    snprintf(c.adapter.orders[0], SSM_CFG_ORDER_MAX, "forward");
    snprintf(c.adapter.orders[1], SSM_CFG_ORDER_MAX, "reverse");
    c.adapter.orders_count = 2;
    c.backbone.d_model = 16;
    c.backbone.n_layers = 1;
    snprintf(c.task.name, sizeof c.task.name, "forecast");
    c.task.loss = SSM_LOSS_MSE;
    c.optim.lr = 3e-3;
    c.optim.weight_decay = 0;
    c.optim.warmup_steps = 10;
    c.optim.min_lr = 1e-5;
    c.train.epochs = 6;
    c.train.log_every = 0;
    c.train.checkpoint_every = 0;
    c.run.seed = 1;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_validate(&c, &e) == SSM_OK, "%s", e.msg);
    series_data d;
    ck_assert_msg(series_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    // 700 rows, custom layout: int(700 * 0.7) = 489 (700 * 0.7 = 489.99999999999994 in
    // doubles, as Python truncates it) / 71 / 140 rows; windows (rows [+ 48 overlap] - 60) + 1
    ck_assert_int_eq(d.n_train, 489 - 60 + 1);
    ck_assert_int_eq(d.n_val, 71 + 48 - 60 + 1);
    ck_assert_int_eq(d.n_test, 140 + 48 - 60 + 1);
    // the naive forecast: every horizon step = the window's last value
    double naive = 0;
    int64_t cnt = 0;
    for (;;) {
        const ssm_batch *b;
        ck_assert_int_eq(ssm_batcher_next(&d.test, &b, &e), SSM_OK);
        if (!b)
            break;
        for (int64_t i = 0; i < b->B; i++)
            for (int64_t h = 0; h < 12; h++)
                for (int64_t v = 0; v < 2; v++) {
                    double diff = b->x[(i * 48 + 47) * 2 + v] - b->y_dense[(i * 12 + h) * 2 + v];
                    naive += diff * diff;
                    cnt++;
                }
    }
    naive /= (double)cnt;
    task_data_info info = {.input = {2, {48, 2}}, .horizon = 12, .out_vars = 2, .out_std = d.out_std};
    ssm_task *t;
    ck_assert_msg(task_create(&t, &c, &info, 16, &e) == SSM_OK, "%s", e.msg);
    ck_assert_str_eq(t->primary, "mse");
    char *yaml = ssm_config_to_yaml_string(&c, &e);
    train_options o = {.cfg = &c, .run_dir = fx_dir, .config_yaml = yaml};
    train_result r;
    ck_assert_msg(train_run(t, &d.train, &d.val, &d.test, &o, &r, &e) == SSM_OK, "%s", e.msg);
    double mse = task_metrics_get(&r.test, "mse");
    fprintf(stderr, "end to end: test MSE %.4f, repeat-last MSE %.4f (%lld steps)\n", mse, naive,
            (long long)r.steps);
    ck_assert_int_eq(r.test.samples, d.n_test);
    ck_assert_msg(mse < 0.5 * naive, "test MSE %g is not below half the naive %g", mse, naive);
    // original-scale metrics are the standardised ones times the scaler's variance/std
    ck_assert(task_metrics_get(&r.test, "mse_orig") > 0);
    ck_assert(!isnan(r.best_val));
    free(yaml);
    task_free(t);
    series_data_close(&d);
    fx_cleanup();
}
END_TEST

int main(void) {
    (void)fx_hammer_mutate;
    Suite *s = suite_create("series_tasks");
    TCase *tc = tcase_create("series");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, revin_stats_hand_computed);
    tcase_add_test(tc, revin_round_trip);
    tcase_add_test(tc, forecast_loss_and_metrics_hand_computed);
    tcase_add_test(tc, series_variate_forward_naive);
    tcase_add_test(tc, series_patch_forward_naive);
    tcase_add_test(tc, end_to_end_beats_repeat_last);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
