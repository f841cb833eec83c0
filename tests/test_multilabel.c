// Check suite: the multilabel task and soft labels.
//  - Average precision and the multi-label summary (mAP, macro AUC, micro-F1) against values
//    worked out by hand, ties included; classes without a positive (or without a negative)
//    left out and counted.
//  - Binary cross-entropy on logits against its definition, finite at +-100.
//  - Soft-target cross-entropy: with a two-class mix it equals the mix of the two hard
//    cross-entropies (with and without label smoothing).
//  - An audio batch with mixup (audio_folder recipe, data.augment.mixup 1): rows of y_dense
//    are distributions over at most two classes, and classify's training loss on it equals
//    the hand-mixed cross-entropy of the model's logits.
//  - The task: targets from multi-hot y_dense or the one-hot of y, evaluation metrics equal
//    to the summary of the model's own logits, predict lines, config refusals; classify
//    refuses multi-hot data.
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
#include "kernels/loss.h"
#include "tasks/loss.h"
#include "tasks/metrics.h"
#include "tasks/task_registry.h"
#include "tasks/task_run.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static char g_root[64];

#define NEAR(a, b, tol) ck_assert_msg(fabs((double)(a) - (double)(b)) < (tol), "%s = %.9g, expected %.9g", #a, (double)(a), (double)(b))

START_TEST(average_precision_by_hand) {
    // scikit-learn's documented example: AP 0.8333, AUC 0.75
    double s1[] = {0.1, 0.4, 0.35, 0.8};
    uint8_t y1[] = {0, 0, 1, 1};
    NEAR(average_precision_binary(s1, y1, 4), 5.0 / 6, 1e-12);
    NEAR(roc_auc_binary(s1, y1, 4), 0.75, 1e-12);
    // a tie across the labels is one threshold: (0.9 +) then (0.5 + -) at precision 2/3
    double s2[] = {0.9, 0.5, 0.5, 0.1};
    uint8_t y2[] = {1, 1, 0, 0};
    NEAR(average_precision_binary(s2, y2, 4), 0.5 * 1 + 0.5 * 2.0 / 3, 1e-12);
    NEAR(roc_auc_binary(s2, y2, 4), 3.5 / 4, 1e-12);
    // every score tied: AP = the positive rate, AUC 1/2
    double s3[] = {0.5, 0.5, 0.5, 0.5};
    uint8_t y3[] = {1, 0, 1, 0};
    NEAR(average_precision_binary(s3, y3, 4), 0.5, 1e-12);
    NEAR(roc_auc_binary(s3, y3, 4), 0.5, 1e-12);
    // positives ranked last: 1/3 at recall 1/2, 2/4 at recall 1
    double s4[] = {0.9, 0.8, 0.2, 0.1};
    uint8_t y4[] = {0, 1, 0, 1};
    NEAR(average_precision_binary(s4, y4, 4), 0.5 * 0.5 + 0.5 * 0.5, 1e-12);
    uint8_t none[] = {0, 0, 0, 0}, all[] = {1, 1, 1, 1};
    ck_assert(isnan(average_precision_binary(s1, none, 4)));
    NEAR(average_precision_binary(s1, all, 4), 1, 1e-12);
    ck_assert(isnan(roc_auc_binary(s1, all, 4)));
    double snan[] = {0.1, NAN, 0.3, 0.2};
    ck_assert(isnan(average_precision_binary(snan, y1, 4)));
}
END_TEST

START_TEST(multilabel_summary_by_hand) {
    // 5 samples x 3 classes, logits (class-major here for reading):
    //   class 0 [2, -1, 0.5, 0.7, -3]  targets [1 0 1 0 0]: AP 5/6, AUC 5/6
    //   class 1 [-1 -1 1 -1 -1]        targets all 0: no AP, no AUC (left out)
    //   class 2 [1 1 -1 1 1]           targets all 1: AP 1, no AUC
    const real lc[3][5] = {{2, -1, 0.5, 0.7, -3}, {-1, -1, 1, -1, -1}, {1, 1, -1, 1, 1}};
    const real yc[3][5] = {{1, 0, 1, 0, 0}, {0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}};
    real logits[15], y[15];
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 3; k++)
            logits[i * 3 + k] = lc[k][i], y[i * 3 + k] = yc[k][i];
    multilabel_metrics m;
    ssm_error e;
    ck_assert(multilabel_metrics_init(&m, 3, 0.5, &e) == SSM_OK);
    ck_assert(multilabel_metrics_add(&m, logits, y, 2, &e) == SSM_OK); // in two batches
    ck_assert(multilabel_metrics_add(&m, logits + 6, y + 6, 3, &e) == SSM_OK);
    multilabel_summary s;
    double ap[3], auc[3];
    int64_t pos[3];
    multilabel_metrics_summarize(&m, &s, ap, auc, pos);
    NEAR(ap[0], 5.0 / 6, 1e-12);
    NEAR(auc[0], 5.0 / 6, 1e-12);
    ck_assert(isnan(ap[1]) && isnan(auc[1]));
    NEAR(ap[2], 1, 1e-12);
    ck_assert(isnan(auc[2]));
    ck_assert_int_eq(pos[0], 2);
    ck_assert_int_eq(pos[1], 0);
    ck_assert_int_eq(pos[2], 5);
    NEAR(s.map, (5.0 / 6 + 1) / 2, 1e-12);
    ck_assert_int_eq(s.ap_classes, 2);
    NEAR(s.auc, 5.0 / 6, 1e-12);
    ck_assert_int_eq(s.auc_classes, 1);
    // predicted = logit >= 0: TP 2 + 0 + 4, FP 1 + 1 + 0, FN 0 + 0 + 1 -> 12 / 15
    NEAR(s.micro_f1, 0.8, 1e-12);
    // bad input names the sample and class; nothing of that batch is kept
    y[4] = (real)1.5;
    ck_assert_int_eq(multilabel_metrics_add(&m, logits, y, 2, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "sample 1 of the batch has target 1.5 for class 1"));
    y[4] = 0;
    logits[5] = NAN;
    ck_assert_int_eq(multilabel_metrics_add(&m, logits, y, 2, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "sample 1 of the batch has a NaN logit (class 2)"));
    ck_assert_int_eq(m.n, 5);
    multilabel_metrics_reset(&m);
    multilabel_metrics_summarize(&m, &s, NULL, NULL, NULL);
    ck_assert(isnan(s.map) && isnan(s.auc) && isnan(s.micro_f1));
    multilabel_metrics_free(&m);
}
END_TEST

START_TEST(bce_matches_its_definition) {
    const real l[] = {0, 2, -3, 100, -100, 0.5f}, y[] = {1, 0.25f, 0, 0, 1, 1};
    real out[6], g[6] = {0}, one[6] = {1, 1, 1, 1, 1, 1};
    bce_logits_forward(out, l, y, 6);
    bce_logits_backward(g, one, l, y, 6);
    for (int i = 0; i < 6; i++) {
        double p = 1 / (1 + exp(-(double)l[i]));
        double want = fabs(l[i]) < 30 ? -(y[i] * log(p) + (1 - y[i]) * log(1 - p))
                                      : (l[i] > 0 ? l[i] * (1 - y[i]) : -l[i] * y[i]);
        NEAR(out[i], want, 1e-5 * (1 + want));
        NEAR(g[i], p - y[i], 1e-6);
        ck_assert(isfinite(out[i]));
    }
    // the task's loss: the mean over B*K
    loss_spec ls = {.kind = LOSS_BCE};
    ssm_targets t = {.values = y};
    real losses[6];
    double mean;
    loss_forward(&ls, &mean, losses, NULL, l, &t, 2, 3);
    double sum = 0;
    for (int i = 0; i < 6; i++)
        sum += out[i];
    NEAR(mean, sum / 6, 1e-5);
}
END_TEST

START_TEST(soft_ce_is_the_mixed_hard_ce) {
    enum { B = 3, V = 5 };
    real logits[B * V], q[B * V] = {0}, probs[B * V], la[B], lb[B], soft[B];
    uint64_t st = 5;
    tu_fill_uniform(logits, B * V, -3, 3, &st);
    const int32_t a[B] = {0, 4, 2}, b[B] = {3, 1, 2};
    const double lam[B] = {0.7, 0.45, 0.6};
    for (int i = 0; i < B; i++) {
        q[i * V + a[i]] += (real)lam[i];
        q[i * V + b[i]] += (real)(1 - lam[i]);
    }
    for (int sm = 0; sm < 2; sm++) {
        real eps = sm ? (real)0.1 : 0;
        cross_entropy_forward(la, probs, logits, a, B, V, eps);
        cross_entropy_forward(lb, probs, logits, b, B, V, eps);
        soft_cross_entropy_forward(soft, probs, logits, q, B, V, eps);
        for (int i = 0; i < B; i++)
            NEAR(soft[i], lam[i] * la[i] + (1 - lam[i]) * lb[i], 1e-5);
        loss_spec ls = {.kind = LOSS_CE, .smoothing = eps};
        ssm_targets t = {.values = q};
        ssm_error e;
        ck_assert(loss_check_targets(&ls, &t, B, V, &e) == SSM_OK);
        real losses[B * V];
        double mean;
        loss_forward(&ls, &mean, losses, probs, logits, &t, B, V);
        NEAR(mean, (soft[0] + soft[1] + soft[2]) / 3, 1e-6);
    }
}
END_TEST

// ---- tasks on real batches -------------------------------------------------------------

static void write_clip(const char *path, double hz, uint64_t seed) {
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s", path);
    float x[6000];
    uint64_t st = seed;
    for (int i = 0; i < 6000; i++)
        x[i] = (float)(0.3 * sin(2 * M_PI * hz * i / 16000.0) + 0.02 * (tu_uniform(&st) - 0.5));
    sf_writef_float(f, x, 6000);
    sf_close(f);
}

// A small model config: audio_patches on [32 frames, 16 mel], 8 tokens.
static void model_config(ssm_config *c, const char *task, int64_t K) {
    ssm_config_defaults(c);
    snprintf(c->adapter.name, sizeof c->adapter.name, "audio_patches");
    c->adapter.patch_size = 8;
    snprintf(c->adapter.orders[0], sizeof c->adapter.orders[0], "time");
    c->adapter.orders_count = 1;
    c->backbone.d_model = 16;
    c->backbone.n_layers = 1;
    c->backbone.d_state = 4;
    snprintf(c->task.name, sizeof c->task.name, "%s", task);
    c->task.num_classes = K;
    c->data.target_frames = 32;
    c->data.fbank.num_mel_bins = 16;
}

START_TEST(mixup_batch_trains_on_the_mixed_ce) {
    char dir[256], p[512];
    snprintf(dir, sizeof dir, "%s/folder", g_root);
    mkdir(dir, 0755);
    const char *cls[3] = {"low", "mid", "high"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, cls[k]);
        mkdir(p, 0755);
        for (int i = 0; i < 5; i++) {
            snprintf(p, sizeof p, "%s/%s/c%d.wav", dir, cls[k], i);
            write_clip(p, 300 * (k + 1), (uint64_t)(10 * k + i));
        }
    }
    ssm_config c;
    model_config(&c, "classify", 3);
    c.data.name = SSM_DATA_AUDIO_FOLDER;
    snprintf(c.data.path, sizeof c.data.path, "%s", dir);
    c.data.val_fraction = 0.2;
    c.data.batch_size = 9;
    c.data.num_workers = 0;
    c.data.augment.mixup = 1;
    c.data.augment.mixup_alpha = 2; // lambdas far from 1/2 as well
    audio_data d;
    ssm_error e = {0};
    ck_assert_msg(audio_data_open(&d, &c.data, 1, 0, &e) == SSM_OK, "%s", e.msg);
    const ssm_batch *b;
    ck_assert(ssm_batcher_next(&d.train, &b, &e) == SSM_OK && b);
    ck_assert_int_eq(b->dense_kind, SSM_DENSE_PROBS);
    ck_assert_int_eq(b->dense_shape[1], 3);
    int mixed = 0;
    for (int64_t i = 0; i < b->B; i++) {
        double sum = 0;
        int nonzero = 0;
        for (int k = 0; k < 3; k++) {
            sum += b->y_dense[i * 3 + k];
            nonzero += b->y_dense[i * 3 + k] != 0;
        }
        NEAR(sum, 1, 1e-6);
        ck_assert_int_le(nonzero, 2);
        ck_assert(b->y_dense[i * 3 + b->y[i]] > 0); // the clip's own class has weight lambda
        mixed += nonzero == 2;
    }
    ck_assert_msg(mixed > 0, "no row mixes two classes");
    task_data_info info = {.input = {2, {d.T, d.F}}, .num_classes = 3};
    ssm_task *t;
    ck_assert_msg(task_create(&t, &c, &info, b->B, &e) == SSM_OK, "%s", e.msg);
    double loss;
    ck_assert_msg(task_loss_and_grad(t, b, &loss, &e) == SSM_OK, "%s", e.msg);
    const real *logits;
    ck_assert(model_predict(&t->model, b->x, b->B, &logits, &e) == SSM_OK);
    // hand-mixed: lambda CE(own class) + (1 - lambda) CE(the other class)
    double hand = 0;
    for (int64_t i = 0; i < b->B; i++) {
        const real *l = logits + i * 3;
        double mx = fmax(l[0], fmax(l[1], l[2])), z = 0;
        for (int k = 0; k < 3; k++)
            z += exp(l[k] - mx);
        double lse = mx + log(z);
        int a = b->y[i], o = a;
        for (int k = 0; k < 3; k++)
            if (k != a && b->y_dense[i * 3 + k] > 0)
                o = k;
        double lam = o == a ? 1 : b->y_dense[i * 3 + a];
        hand += lam * (lse - l[a]) + (1 - lam) * (lse - l[o]);
    }
    hand /= (double)b->B;
    NEAR(loss, hand, 1e-5);
    // the hard labels alone give another loss: the soft one is what was used
    ssm_batch hard = *b;
    hard.y_dense = NULL;
    double hard_loss;
    ck_assert(task_loss_and_grad(t, &hard, &hard_loss, &e) == SSM_OK);
    ck_assert(fabs(hard_loss - loss) > 1e-4);
    // multi-hot data is refused by classify, naming the task to use
    hard = *b;
    hard.dense_kind = SSM_DENSE_MULTI_HOT;
    ck_assert_int_eq(task_loss_and_grad(t, &hard, &hard_loss, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "use task.name multilabel"));
    task_free(t);
    audio_data_close(&d);
}
END_TEST

static const char *const ABC[3] = {"A", "B", "C"}; // outlives the task (it keeps the pointer)

static ssm_task *multilabel_task(int64_t B) {
    ssm_config c;
    model_config(&c, "multilabel", 3);
    task_data_info info = {.input = {2, {32, 16}}, .num_classes = 3,
                           .class_names = ABC};
    ssm_task *t;
    ssm_error e = {0};
    ck_assert_msg(task_create(&t, &c, &info, B, &e) == SSM_OK, "%s", e.msg);
    return t;
}

START_TEST(multilabel_task_targets_metrics_predict) {
    enum { B = 4, K = 3 };
    ssm_task *t = multilabel_task(B);
    ck_assert_str_eq(t->primary, "mAP");
    ck_assert_int_eq(t->lower_is_better, 0);
    ck_assert_int_eq(t->model.loss.kind, LOSS_BCE);
    real x[B * 32 * 16], yd[B * K] = {1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1};
    uint64_t st = 3;
    tu_fill_uniform(x, B * 32 * 16, -1, 1, &st);
    int32_t y[B] = {2, 0, 1, 2};
    ssm_batch b = {.B = B, .x = x, .y = y, .y_dense = yd, .dense_ndim = 2,
                   .dense_shape = {B, K}, .dense_kind = SSM_DENSE_MULTI_HOT};
    ssm_targets tg;
    ssm_error e = {0};
    ck_assert(t->vt->targets(t, &b, &tg, &e) == SSM_OK);
    ck_assert(tg.values == yd && !tg.cls);
    // single-label data: the one-hot of y
    ssm_batch single = b;
    single.y_dense = NULL, single.dense_ndim = 0;
    ck_assert(t->vt->targets(t, &single, &tg, &e) == SSM_OK);
    for (int i = 0; i < B; i++)
        for (int k = 0; k < K; k++)
            ck_assert(tg.values[i * K + k] == (k == y[i]));
    single.y[1] = 3;
    ck_assert_int_eq(t->vt->targets(t, &single, &tg, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "label 3 of batch sample 1 is outside [0, 3)"));
    single.y[1] = 0;
    ssm_batch wrong = b;
    wrong.dense_kind = SSM_DENSE_VALUES;
    ck_assert_int_eq(t->vt->targets(t, &wrong, &tg, &e), SSM_EDATA);
    wrong = b;
    wrong.dense_shape[1] = 4;
    ck_assert_int_eq(t->vt->targets(t, &wrong, &tg, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "targets of 4 values per sample, the model has 3 classes"));
    double loss;
    ck_assert(task_loss_and_grad(t, &b, &loss, &e) == SSM_OK);
    ck_assert(isfinite(loss) && loss > 0);

    // evaluation = the summary of the model's own logits; loss = their mean BCE
    t->vt->eval_begin(t);
    ck_assert(t->vt->eval_batch(t, &b, &e) == SSM_OK);
    task_metrics out = {0};
    t->vt->eval_end(t, &out);
    const real *logits;
    ck_assert(model_predict(&t->model, x, B, &logits, &e) == SSM_OK);
    multilabel_metrics m;
    ck_assert(multilabel_metrics_init(&m, K, 0.5, &e) == SSM_OK);
    ck_assert(multilabel_metrics_add(&m, logits, yd, B, &e) == SSM_OK);
    multilabel_summary s;
    multilabel_metrics_summarize(&m, &s, NULL, NULL, NULL);
    multilabel_metrics_free(&m);
    NEAR(task_metrics_get(&out, "mAP"), s.map, 1e-12);
    NEAR(task_metrics_get(&out, "auc"), s.auc, 1e-12);
    NEAR(task_metrics_get(&out, "micro_f1"), s.micro_f1, 1e-12);
    NEAR(task_metrics_get(&out, "mAP_classes"), 3, 1e-12);
    NEAR(task_metrics_get(&out, "loss"), loss, 1e-5); // same batch, same weights
    char path[512];
    ck_assert(t->vt->test_report(t, g_root, &e) == SSM_OK);
    snprintf(path, sizeof path, "%s/per_class_test.csv", g_root);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "class,positives,ap,auc\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert(!strncmp(line, "A,2,", 4));
    fclose(f);

    // predict: the classes at probability >= 0.5, most probable first, at most --top
    const real lg[K] = {2, -1, 0.5};
    char *buf;
    size_t n;
    f = open_memstream(&buf, &n);
    t->vt->predict_line(t, f, lg, 3);
    fclose(f);
    ck_assert_str_eq(buf, "\tA 0.8808\tC 0.6225");
    free(buf);
    f = open_memstream(&buf, &n);
    t->vt->predict_line(t, f, lg, 1);
    fclose(f);
    ck_assert_str_eq(buf, "\tA 0.8808");
    free(buf);
    task_free(t);
}
END_TEST

static void refused(const char *task, void (*set)(ssm_config *), const char *key,
                    const char *want) {
    ssm_config c;
    model_config(&c, task, 3);
    set(&c);
    const char *k = NULL;
    ssm_error e = {0};
    ck_assert_int_eq(task_check_config(&c, &k, &e), SSM_ECONFIG);
    ck_assert_str_eq(k, key);
    ck_assert_msg(strstr(e.msg, want), "'%s' lacks '%s'", e.msg, want);
}
static void loss_ce(ssm_config *c) { c->task.loss = SSM_LOSS_CE; }
static void loss_bce(ssm_config *c) { c->task.loss = SSM_LOSS_BCE; }
static void smoothing(ssm_config *c) { c->task.label_smoothing = 0.1; }
static void bag_pool(ssm_config *c) { c->task.pool = SSM_POOL_ATTENTION; }
static void no_classes(ssm_config *c) { c->task.num_classes = 0; }

START_TEST(config_refusals) {
    refused("multilabel", loss_ce, "task.loss", "must be auto or bce for task.name multilabel");
    refused("multilabel", smoothing, "task.label_smoothing", "multilabel's binary cross-entropy");
    refused("multilabel", bag_pool, "task.pool", "multilabel takes mean, cls or last");
    refused("multilabel", no_classes, "task.num_classes", "needs at least 1");
    refused("classify", loss_bce, "task.loss", "got bce (multi-label: task.name multilabel)");
    refused("regress", loss_bce, "task.loss", "task.loss bce does not apply");
    ssm_config c;
    model_config(&c, "multilabel", 3);
    const char *k = NULL;
    ssm_error e;
    ck_assert_int_eq(task_check_config(&c, &k, &e), SSM_OK);
    // the config file spelling
    ck_assert_int_eq(ssm_config_set(&c, "task.loss=bce", &e), SSM_OK);
    ck_assert_int_eq(ssm_config_set(&c, "task.threshold=0.3", &e), SSM_OK);
    NEAR(c.task.threshold, 0.3, 1e-12);
    ck_assert_int_ne(ssm_config_set(&c, "task.threshold=1.5", &e), SSM_OK);
    ck_assert_int_eq(ssm_config_set(&c, "data.augment.mixup=0.5", &e), SSM_OK);
    ck_assert_int_ne(ssm_config_set(&c, "data.augment.mixup_alpha=0", &e), SSM_OK);
    ck_assert_int_eq(ssm_config_set(&c, "data.name=audio_manifest", &e), SSM_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("multilabel");
    TCase *tc = tcase_create("multilabel");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, average_precision_by_hand);
    tcase_add_test(tc, multilabel_summary_by_hand);
    tcase_add_test(tc, bce_matches_its_definition);
    tcase_add_test(tc, soft_ce_is_the_mixed_hard_ce);
    tcase_add_test(tc, mixup_batch_trains_on_the_mixed_ce);
    tcase_add_test(tc, multilabel_task_targets_metrics_predict);
    tcase_add_test(tc, config_refusals);
    suite_add_tcase(s, tc);
    return tu_run_suite_in(s, 0, g_root, sizeof g_root, "ssm_multilabel");
}
