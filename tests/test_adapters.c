// Check suite: the adapter registry, the image_patches adapter (patch
// extraction against a naive convolution, scan orders against hand-built
// ones), the classification head's pooling, and the classification metrics
// against hand-computed values.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tasks/pool.h"
#include "tasks/metrics.h"
#include "tests/util/rig.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

// An adapter with its params and arena, ready to run (tests/util/rig.h).
typedef tu_rig rig;

static void rig_make(rig *r, const ssm_adapter_options *o, int64_t C, int64_t H, int64_t W,
                     int64_t D, int64_t B_max) {
    ssm_input_shape in = {3, {C, H, W}};
    ssm_error e = {0};
    ck_assert_msg(tu_rig_make(r, "image_patches", o, &in, D, B_max, &e) == SSM_OK, "%s", e.msg);
}

static const real *param(const rig *r, const char *name) { return tu_param(&r->p, name); }

// ---- registry ------------------------------------------------------------------

START_TEST(registry_lookup_and_unknown_name) {
    const ssm_adapter_vtable *vt = ssm_adapter_find("image_patches");
    ck_assert_ptr_nonnull(vt);
    ck_assert_str_eq(vt->name, "image_patches");
    ck_assert_ptr_null(ssm_adapter_find("image_patch"));
    ck_assert_ptr_null(ssm_adapter_find(NULL));
    ssm_error e = {0};
    ck_assert_int_eq(ssm_adapter_lookup("x", &vt, &e), SSM_ENOTFOUND);
    ck_assert_ptr_null(vt);
    char known[256];
    ssm_adapter_list(known, sizeof known);
    char want[512];
    snprintf(want, sizeof want, "unknown adapter 'x'; known: %s", known);
    ck_assert_str_eq(e.msg, want);
    ck_assert(strncmp(known, "image_patches", 13) == 0);
    size_t n;
    const ssm_adapter_vtable *const *all = ssm_adapter_registry(&n);
    ck_assert_uint_ge(n, 1);
    for (size_t i = 0; i < n; i++) { // every entry complete and findable by its name
        ck_assert(all[i]->create && all[i]->init_params && all[i]->plan && all[i]->forward &&
                  all[i]->backward && all[i]->summary);
        ck_assert_ptr_eq(ssm_adapter_find(all[i]->name), all[i]);
    }
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    ssm_input_shape in = {3, {1, 8, 8}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_adapter *a = (ssm_adapter *)1;
    ck_assert_int_eq(ssm_adapter_create(&a, "nope", &o, &in, 8, &p, "", &e), SSM_ENOTFOUND);
    ck_assert_ptr_null(a);
    ck_assert(strstr(e.msg, "unknown adapter 'nope'; known: image_patches") == e.msg);
    ssm_params_free(&p);
}
END_TEST

// ---- image_patches: parameters and refusals ---------------------------------------

START_TEST(image_patches_params_and_errors) {
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 4;
    rig r;
    rig_make(&r, &o, 3, 8, 12, 6, 1); // 2 x 3 grid, middle cls
    ck_assert_int_eq(r.a->seq_len, 7);
    ck_assert_int_eq(r.a->cls_index, 3);
    ck_assert_int_eq(r.a->n_orders, 2); // default: row, reverse
    ck_assert_str_eq(r.a->order_names[0], "row");
    ck_assert_str_eq(r.a->order_names[1], "reverse");
    struct {
        const char *name;
        int ndim;
        int64_t shape[4];
        int no_decay;
    } want[] = {{"patch_embed.proj.weight", 4, {6, 3, 4, 4}, 0},
                {"patch_embed.proj.bias", 1, {6}, 1},
                {"cls_token", 3, {1, 1, 6}, 1},
                {"pos_embed", 3, {1, 7, 6}, 1}};
    ck_assert_uint_eq(r.p.count, 4);
    for (int i = 0; i < 4; i++) {
        int64_t k = ssm_params_find(&r.p, want[i].name);
        ck_assert_msg(k >= 0, "%s", want[i].name);
        const ssm_param_info *it = &r.p.items[k];
        ck_assert_int_eq(it->ndim, want[i].ndim);
        for (int d = 0; d < it->ndim; d++)
            ck_assert_int_eq(it->shape[d], want[i].shape[d]);
        ck_assert_int_eq(!!(it->flags & SSM_PARAM_NO_DECAY), want[i].no_decay);
    }
    // init: pos/cls ~ trunc normal(.02), bias 0, weight lecun-normal with std ~ 1/sqrt(48)
    ssm_rng rng;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_rng_init(&rng, 7, &e), SSM_OK);
    ssm_adapter_init_params(r.a, &r.p, &rng);
    const real *w = param(&r, "patch_embed.proj.weight"), *pos = param(&r, "pos_embed");
    double ss = 0, mx = 0;
    for (int i = 0; i < 6 * 48; i++) {
        ss += w[i] * w[i];
        mx = fmax(mx, fabs(w[i]));
    }
    ck_assert(fabs(sqrt(ss / (6 * 48)) - 1 / sqrt(48.0)) < 0.3 / sqrt(48.0));
    ck_assert(mx <= 2 * (1 / sqrt(48.0)) / .87962566103423978 + 1e-6);
    ck_assert(param(&r, "patch_embed.proj.bias")[0] == 0);
    double sp = 0;
    for (int i = 0; i < 7 * 6; i++)
        sp += pos[i] * pos[i];
    ck_assert(fabs(sqrt(sp / 42) - .02) < .008);
    ssm_rng_free(&rng);
    // B above the plan is refused, not overrun
    real x[2 * 3 * 8 * 12] = {0}, tok[2 * 7 * 6];
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, NULL, x, 2, &e), SSM_EINVAL);
    ck_assert(strstr(e.msg, "planned for 1..1"));
    tu_rig_free(&r);

    // refusals, each naming what was expected
    struct {
        int64_t C, H, W;
        int ndim, p, s;
        const char *order, *extra, *want;
        int64_t in_channels;
    } bad[] = {
        {3, 8, 8, 2, 4, 0, NULL, NULL, "expected [C, H, W]", 0},
        {3, 8, 8, 3, 9, 0, NULL, NULL, "patch_size 9 does not fit in a 8x8 image", 0},
        {3, 8, 8, 3, 4, 0, "diagonal", NULL,
         "unknown scan order 'diagonal'; known: row, column, snake, reverse", 0},
        {3, 8, 8, 3, 4, 0, NULL, "n_mels", "image_patches: unknown option 'n_mels'; known: (none)", 0},
        {3, 8, 8, 3, 4, 0, NULL, NULL, "in_channels = 1 but the data has 3 channels", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssm_adapter_options_defaults(&o);
        o.patch_size = bad[i].p;
        o.in_channels = bad[i].in_channels;
        if (bad[i].order) {
            o.n_orders = 2;
            strcpy(o.orders[0], "row");
            strcpy(o.orders[1], bad[i].order);
        }
        if (bad[i].extra) {
            o.n_extra = 1;
            strcpy(o.extra[0].key, bad[i].extra);
            strcpy(o.extra[0].value, "128");
        }
        ssm_input_shape in = {bad[i].ndim, {bad[i].C, bad[i].H, bad[i].W}};
        ssm_params p;
        ssm_params_init(&p);
        ssm_adapter *a;
        ck_assert_int_ne(ssm_adapter_create(&a, "image_patches", &o, &in, 8, &p, "", &e), SSM_OK);
        ck_assert_msg(strstr(e.msg, bad[i].want), "case %zu: got \"%s\"", i, e.msg);
        ck_assert_ptr_null(a);
        ssm_params_free(&p);
    }
}
END_TEST

// ---- image_patches: patch extraction against a naive convolution -------------------

static void check_extraction(ssm_cls_position cls) {
    // 7 x 10 image, p = 3, stride 2: a 3 x 4 grid of overlapping patches; the
    // last row and column of pixels are not covered, as in Conv2d.
    const int64_t B = 2, C = 2, H = 7, W = 10, p = 3, s = 2, D = 5, gh = 3, gw = 4, P = 12;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = p;
    o.stride = s;
    o.cls_token = cls;
    rig r;
    rig_make(&r, &o, C, H, W, D, B);
    int64_t L = r.a->seq_len, c = r.a->cls_index;
    ck_assert_int_eq(L, P + (cls != SSM_CLS_NONE));
    ck_assert_int_eq(c, cls == SSM_CLS_HEAD ? 0 : cls == SSM_CLS_MIDDLE ? P / 2 : -1);
    uint64_t st = 5 + (uint64_t)cls;
    tu_fill_uniform(r.p.data, r.p.total, -1, 1, &st);
    real x[B * C * H * W], tok[B * L * D];
    tu_fill_uniform(x, B * C * H * W, -1, 1, &st);
    ssm_error e = {0};
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, NULL, x, B, &e), SSM_OK);
    const real *w = param(&r, "patch_embed.proj.weight"), *bias = param(&r, "patch_embed.proj.bias"),
               *pos = param(&r, "pos_embed"), *cls_tok = c >= 0 ? param(&r, "cls_token") : NULL;
    for (int64_t b = 0; b < B; b++) {
        int64_t l = 0;
        for (int64_t i = 0; i < gh; i++)
            for (int64_t j = 0; j < gw; j++, l++) {
                if (l == c) { // the class token sits here; the patch goes one further
                    for (int64_t d = 0; d < D; d++)
                        ck_assert(fabs(tok[(b * L + c) * D + d] - (cls_tok[d] + pos[c * D + d])) < 1e-6);
                    l++;
                }
                for (int64_t d = 0; d < D; d++) {
                    double acc = bias[d] + pos[l * D + d];
                    for (int64_t ch = 0; ch < C; ch++)
                        for (int64_t u = 0; u < p; u++)
                            for (int64_t v = 0; v < p; v++)
                                acc += (double)w[((d * C + ch) * p + u) * p + v] *
                                       x[((b * C + ch) * H + i * s + u) * W + j * s + v];
                    ck_assert_msg(fabs(tok[(b * L + l) * D + d] - acc) < 1e-5,
                                  "cls %d b %lld patch (%lld,%lld) d %lld: %g vs %g", cls,
                                  (long long)b, (long long)i, (long long)j, (long long)d,
                                  (double)tok[(b * L + l) * D + d], acc);
                }
            }
        ck_assert_int_eq(l, L);
    }
    tu_rig_free(&r);
}

START_TEST(image_patches_extraction_matches_naive) {
    check_extraction(SSM_CLS_HEAD);
    check_extraction(SSM_CLS_MIDDLE);
    check_extraction(SSM_CLS_NONE);
}
END_TEST

// ---- image_patches: scan orders on a 3 x 4 grid, by hand --------------------------

static const char *const all_orders[] = {"row",     "column",         "snake",
                                         "reverse", "column_reverse", "snake_reverse"};

static void run_orders(int32_t *orders, ssm_cls_position cls, int64_t C, int64_t H, int64_t W,
                       int64_t p, int64_t s, int64_t B, int64_t *L) {
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = p;
    o.stride = s;
    o.cls_token = cls;
    o.n_orders = 6;
    for (int i = 0; i < 6; i++)
        strcpy(o.orders[i], all_orders[i]);
    rig r;
    rig_make(&r, &o, C, H, W, 3, B);
    *L = r.a->seq_len;
    real *x = calloc((size_t)(B * C * H * W), sizeof(real));
    real *tok = malloc((size_t)(B * *L * 3) * sizeof(real));
    ssm_error e = {0};
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, orders, x, B, &e), SSM_OK);
    free(x);
    free(tok);
    tu_rig_free(&r);
}

START_TEST(image_patches_orders_3x4_by_hand) {
    // The grid, patch k (row-major):   0  1  2  3
    //                                  4  5  6  7
    //                                  8  9 10 11
    // Positions: none: patch k at k; head: cls at 0, patch k at k+1;
    // middle: cls at 6, patch k at k (k < 6) or k+1 (k >= 6).
    static const int32_t none[3][12] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},  // row
        {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11},  // column
        {0, 1, 2, 3, 7, 6, 5, 4, 8, 9, 10, 11},  // snake
    };
    static const int32_t head[3][13] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
        {0, 1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12},
        {0, 1, 2, 3, 4, 8, 7, 6, 5, 9, 10, 11, 12},
    };
    static const int32_t middle[3][13] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
        {0, 4, 9, 1, 5, 10, /*cls*/ 6, 2, 7, 11, 3, 8, 12},
        {0, 1, 2, 3, 8, 7, /*cls*/ 6, 5, 4, 9, 10, 11, 12},
    };
    struct {
        ssm_cls_position cls;
        const int32_t *want; // [3][L]
        int64_t L;
    } cases[] = {{SSM_CLS_NONE, &none[0][0], 12},
                 {SSM_CLS_HEAD, &head[0][0], 13},
                 {SSM_CLS_MIDDLE, &middle[0][0], 13}};
    const int64_t B = 2;
    for (int t = 0; t < 3; t++) {
        int32_t orders[6 * B * 13];
        int64_t L;
        run_orders(orders, cases[t].cls, 1, 6, 8, 2, 2, B, &L); // 6 x 8 image, 2 x 2 patches: 3 x 4
        ck_assert_int_eq(L, cases[t].L);
        for (int o = 0; o < 6; o++)
            for (int64_t b = 0; b < B; b++)
                for (int64_t l = 0; l < L; l++) {
                    // reverses are the forward orders read backwards
                    int32_t want = o < 3 ? cases[t].want[o * L + l] : cases[t].want[(o - 3) * L + L - 1 - l];
                    ck_assert_msg(orders[(o * B + b) * L + l] == want, "cls %s order %s b %lld step %lld: %d, want %d",
                                  ssm_cls_position_name(cases[t].cls), all_orders[o], (long long)b,
                                  (long long)l, orders[(o * B + b) * L + l], want);
                }
    }
}
END_TEST

START_TEST(image_patches_orders_are_permutations) {
    // Assorted grids (1 x n, n x 1, odd, overlapping stride) and every cls position.
    const int64_t sizes[][4] = {{4, 4, 4, 4},  {4, 20, 4, 4}, {20, 4, 4, 4},
                                {9, 11, 3, 2}, {7, 7, 3, 1},  {10, 6, 2, 3}};
    for (size_t g = 0; g < sizeof sizes / sizeof sizes[0]; g++)
        for (int cls = SSM_CLS_HEAD; cls <= SSM_CLS_NONE; cls++) {
            int64_t H = sizes[g][0], W = sizes[g][1], p = sizes[g][2], s = sizes[g][3];
            int64_t gh = (H - p) / s + 1, gw = (W - p) / s + 1, L;
            int32_t *orders = malloc((size_t)(6 * (gh * gw + 1)) * sizeof(int32_t));
            run_orders(orders, (ssm_cls_position)cls, 1, H, W, p, s, 1, &L);
            ck_assert_int_eq(L, gh * gw + (cls != SSM_CLS_NONE));
            int64_t c = cls == SSM_CLS_HEAD ? 0 : cls == SSM_CLS_MIDDLE ? gh * gw / 2 : -1;
            for (int o = 0; o < 6; o++) {
                const int32_t *pm = orders + o * L;
                char *seen = calloc((size_t)L, 1);
                for (int64_t l = 0; l < L; l++) {
                    ck_assert(pm[l] >= 0 && pm[l] < L);
                    ck_assert(!seen[pm[l]]);
                    seen[pm[l]] = 1;
                }
                free(seen);
                if (c >= 0) // cls read at step c (forward) or L-1-c (reverse)
                    ck_assert_int_eq(pm[o < 3 ? c : L - 1 - c], c);
                if (o == 0 || o == 3)
                    for (int64_t l = 0; l < L; l++)
                        ck_assert_int_eq(pm[l], o == 0 ? l : L - 1 - l);
            }
            free(orders);
        }
}
END_TEST

// ---- head pooling ------------------------------------------------------------------

START_TEST(head_pooling_cls_and_mean) {
    enum { B = 2, L = 3, D = 2 };
    real t[B * L * D] = {1, 2, 3, 4, 5, 6, /**/ -1, 0, 1, 2, 3, 10};
    real out[B * D];
    pool_tokens_forward(out, t, 1, B, L, D);
    ck_assert(out[0] == 3 && out[1] == 4 && out[2] == 1 && out[3] == 2);
    pool_tokens_forward(out, t, -1, B, L, D);
    ck_assert(fabs(out[0] - 3) < 1e-6 && fabs(out[1] - 4) < 1e-6);
    ck_assert(fabs(out[2] - 1) < 1e-6 && fabs(out[3] - 4) < 1e-6);
    real g[B * D] = {3, 6, 9, 12}, dt[B * L * D] = {0};
    pool_tokens_backward(dt, g, -1, B, L, D);
    ck_assert(fabs(dt[0] - 1) < 1e-6 && fabs(dt[5] - 2) < 1e-6 && fabs(dt[10] - 3) < 1e-6);
}
END_TEST

// A class token read first by every order sees nothing else in a causal scan: its output is
// the same for every input, so pooling it is refused (the class token pooled, with only
// forward orders and the token at the head, gave constant logits before).
START_TEST(cls_pool_refused_where_every_order_reads_the_token_first) {
    const struct {
        int cls;
        const char *orders[2];
        int blind;
    } cases[] = {{SSM_CLS_HEAD, {"row", NULL}, 1},         {SSM_CLS_HEAD, {"row", "column"}, 1},
                 {SSM_CLS_HEAD, {"snake", "column"}, 1},   {SSM_CLS_HEAD, {"row", "reverse"}, 0},
                 {SSM_CLS_HEAD, {"column_reverse", NULL}, 0}, {SSM_CLS_MIDDLE, {"row", NULL}, 0},
                 {SSM_CLS_NONE, {"row", NULL}, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssm_adapter_options o;
        ssm_adapter_options_defaults(&o);
        o.patch_size = 2;
        o.cls_token = (ssm_cls_position)cases[i].cls;
        o.n_orders = cases[i].orders[1] ? 2 : 1;
        for (uint32_t k = 0; k < o.n_orders; k++)
            strcpy(o.orders[k], cases[i].orders[k]);
        ssm_input_shape in = {3, {1, 4, 6}};
        ssm_params p;
        ssm_params_init(&p);
        ssm_adapter *a = NULL;
        ssm_error e = {0};
        ck_assert_msg(ssm_adapter_create(&a, "image_patches", &o, &in, 8, &p, "", &e) == SSM_OK,
                      "%s", e.msg);
        ck_assert_msg(a->cls_blind == cases[i].blind, "case %zu", i);
        ssm_head_input hi = {.adapter = "image_patches", .input = in, .S = 1, .L = a->seq_len,
                             .D = 8, .cls_index = a->cls_index, .cls_blind = a->cls_blind};
        int64_t index = 7;
        ssm_code rc = ssm_head_pool_index(&hi, SSM_HEAD_POOL_CLS, "classify", &index, &e);
        if (cases[i].blind) {
            ck_assert_int_eq(rc, SSM_ECONFIG);
            ck_assert_msg(strstr(e.msg, "every sample would get the same output") &&
                              strstr(e.msg, "task.pool: mean"), "%s", e.msg);
        } else {
            ck_assert_msg(rc == SSM_OK, "%s", e.msg);
            ck_assert_int_eq(index, a->cls_index);
        }
        ck_assert_int_eq(ssm_head_pool_index(&hi, SSM_HEAD_POOL_MEAN, "classify", &index, &e),
                         SSM_OK); // the mean reads every token: always fine
        ck_assert_int_eq(index, -1);
        ssm_adapter_free(a);
        ssm_params_free(&p);
    }
}
END_TEST

// ---- metrics -------------------------------------------------------------------------

// One-hot-ish logits for a hard prediction: 1 at pred, 0 elsewhere.
static void onehot(real *z, int64_t V, int pred) {
    for (int64_t j = 0; j < V; j++)
        z[j] = j == pred;
}

START_TEST(metrics_hand_computed) {
    // 7 classes; classes 4..6 are never a label nor a prediction, class 2 is
    // a label twice but never predicted.
    //   labels: 0 0 0 1 1 2 2 3
    //   preds:  0 0 1 1 0 1 0 3
    // confusion rows (true) 0: [2 1 0 0], 1: [1 1 0 0], 2: [1 1 0 0], 3: [0 0 0 1]
    const int V = 7;
    const int32_t labels[8] = {0, 0, 0, 1, 1, 2, 2, 3};
    const int preds[8] = {0, 0, 1, 1, 0, 1, 0, 3};
    real z[8 * V];
    for (int i = 0; i < 8; i++)
        onehot(z + i * V, V, preds[i]);
    class_metrics m;
    ssm_error e = {0};
    ck_assert_int_eq(class_metrics_init(&m, V, 5, &e), SSM_OK);
    ck_assert_int_eq(class_metrics_add(&m, z, labels, 5, &e), SSM_OK); // two batches
    ck_assert_int_eq(class_metrics_add(&m, z + 5 * V, labels + 5, 3, &e), SSM_OK);
    ck_assert_int_eq(*m.n, 8);
    const int64_t want[4][4] = {{2, 1, 0, 0}, {1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 1}};
    for (int r = 0; r < V; r++)
        for (int c = 0; c < V; c++)
            ck_assert_int_eq(m.confusion[r * V + c], r < 4 && c < 4 ? want[r][c] : 0);
    ck_assert(fabs(class_metrics_accuracy(&m) - 4.0 / 8) < 1e-12);
    // F1 = 2TP / (2TP + FP + FN): class 0: 4/7, class 1: 2/5, class 2: 0, class 3: 1
    ck_assert(fabs(class_metrics_macro_f1(&m) - (4.0 / 7 + 2.0 / 5 + 0 + 1) / 4) < 1e-12);
    double pc[7];
    class_metrics_per_class_accuracy(&m, pc);
    ck_assert(fabs(pc[0] - 2.0 / 3) < 1e-12 && fabs(pc[1] - 0.5) < 1e-12 && pc[2] == 0 &&
              pc[3] == 1 && isnan(pc[4]));

    // bad data is refused and leaves the counts alone
    int32_t badl = 7;
    ck_assert_int_eq(class_metrics_add(&m, z, &badl, 1, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "label 7, expected 0..6"));
    z[3] = NAN;
    ck_assert_int_eq(class_metrics_add(&m, z, labels, 1, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "NaN"));
    ck_assert_int_eq(*m.n, 8);

    // merge = sum of counts; reset empties
    class_metrics m2;
    ck_assert_int_eq(class_metrics_init(&m2, V, 5, &e), SSM_OK);
    ck_assert_int_eq(class_metrics_merge(&m2, &m, &e), SSM_OK);
    ck_assert_int_eq(class_metrics_merge(&m2, &m, &e), SSM_OK);
    ck_assert_int_eq(*m2.n, 16);
    ck_assert_int_eq(m2.confusion[0], 4);
    ck_assert(fabs(class_metrics_macro_f1(&m2) - class_metrics_macro_f1(&m)) < 1e-12);
    class_metrics_reset(&m2);
    ck_assert(isnan(class_metrics_accuracy(&m2)));
    class_metrics_free(&m2);
    class_metrics_free(&m);
}
END_TEST

START_TEST(metrics_top5) {
    const int V = 7;
    const real base[7] = {0.1f, 0.7f, 0.3f, 0.9f, 0.5f, 0.2f, 0.6f};
    real z[4 * V];
    for (int i = 0; i < 3; i++)
        memcpy(z + i * V, base, sizeof base);
    for (int j = 0; j < V; j++)
        z[3 * V + j] = 0.5f; // all tied: classes rank by index
    // label 5 (0.2): 5 above -> out of top 5; label 2 (0.3): 4 above -> in;
    // label 3: the argmax -> in, and the only top-1 hit; label 4 in a tie: 4 lower indices -> in
    const int32_t labels[4] = {5, 2, 3, 4};
    class_metrics m;
    ssm_error e = {0};
    ck_assert_int_eq(class_metrics_init(&m, V, 5, &e), SSM_OK);
    ck_assert_int_eq(class_metrics_add(&m, z, labels, 4, &e), SSM_OK);
    ck_assert(fabs(class_metrics_topk_accuracy(&m) - 3.0 / 4) < 1e-12);
    ck_assert(fabs(class_metrics_accuracy(&m) - 1.0 / 4) < 1e-12);
    ck_assert_int_eq(m.confusion[4 * V + 0], 1); // the tie predicts the lowest index
    class_metrics_free(&m);
    // k is capped at the number of classes: top-5 of 3 classes is always right
    ck_assert_int_eq(class_metrics_init(&m, 3, 5, &e), SSM_OK);
    ck_assert_int_eq(m.k, 3);
    class_metrics_free(&m);
}
END_TEST

START_TEST(metrics_confusion_csv) {
    class_metrics m;
    ssm_error e = {0};
    ck_assert_int_eq(class_metrics_init(&m, 3, 5, &e), SSM_OK);
    const int32_t labels[4] = {0, 1, 2, 2}, preds[4] = {0, 2, 2, 1};
    ck_assert_int_eq(class_metrics_add_predictions(&m, preds, labels, 4, &e), SSM_OK);
    char path[] = "/tmp/ssmkit_confusion_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    const char *names[3] = {"cat", "t-shirt, top", "say \"hi\""};
    ck_assert_int_eq(class_metrics_write_confusion_csv(&m, path, names, &e), SSM_OK);
    FILE *f = fopen(path, "r");
    char buf[512] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    ck_assert_uint_gt(n, 0);
    ck_assert_str_eq(buf, "true\\pred,cat,\"t-shirt, top\",\"say \"\"hi\"\"\"\n"
                          "cat,1,0,0\n"
                          "\"t-shirt, top\",0,0,1\n"
                          "\"say \"\"hi\"\"\",0,1,1\n");
    ck_assert_int_eq(class_metrics_write_confusion_csv(&m, path, NULL, &e), SSM_OK);
    f = fopen(path, "r");
    memset(buf, 0, sizeof buf);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    ck_assert_str_eq(buf, "true\\pred,0,1,2\n0,1,0,0\n1,0,0,1\n2,0,1,1\n");
    remove(path);
    ck_assert_int_eq(class_metrics_write_confusion_csv(&m, "/nonexistent/dir/c.csv", NULL, &e),
                     SSM_EIO);
    ck_assert(strstr(e.msg, "/nonexistent/dir/c.csv"));
    class_metrics_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("adapters");
    TCase *tc = tcase_create("adapters");
    tcase_add_test(tc, registry_lookup_and_unknown_name);
    tcase_add_test(tc, image_patches_params_and_errors);
    tcase_add_test(tc, image_patches_extraction_matches_naive);
    tcase_add_test(tc, image_patches_orders_3x4_by_hand);
    tcase_add_test(tc, image_patches_orders_are_permutations);
    tcase_add_test(tc, head_pooling_cls_and_mean);
    tcase_add_test(tc, cls_pool_refused_where_every_order_reads_the_token_first);
    tcase_add_test(tc, metrics_hand_computed);
    tcase_add_test(tc, metrics_top5);
    tcase_add_test(tc, metrics_confusion_csv);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
