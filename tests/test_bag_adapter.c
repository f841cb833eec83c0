// Check suite: the bag_features adapter (adapters/bag_features.c) on packed batches:
//  - every order (identity, reverse, sr:R, shuffle, coords_snake, coords_hilbert), with and
//    without a class token, is a permutation of the token row that maps each bag onto
//    itself and reads the class token first;
//  - exact sequences: identity, reverse, sr:R on small bags (by hand), the snake and the
//    Hilbert curve on small patch grids stored out of order (by hand, pixel coordinates at
//    a 256 and a 224 step with an offset), the shuffle fresh per batch key and the same for
//    the same key;
//  - tokens against naive math (x W^T + b through gelu / relu / none, class token rows),
//    coordinates never embedded;
//  - refusals: bad options and shapes at create, bad packings and bad values at forward,
//    each naming what is wrong.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tests/util/rig.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

typedef tu_rig rig; // tests/util/rig.h

static void opts(ssm_adapter_options *o, const char *const *kv, const char *const *orders) {
    ssm_adapter_options_defaults(o);
    for (int i = 0; kv && kv[i]; i += 2) {
        snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i]);
        snprintf(o->extra[o->n_extra].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i + 1]);
        o->n_extra++;
    }
    for (int i = 0; orders && orders[i]; i++)
        snprintf(o->orders[o->n_orders++], SSM_ADAPTER_NAME_MAX, "%s", orders[i]);
}

// bag_features on rows of `row` values, its parameters uniform in [-1, 1) (seed 99).
static ssm_code make(rig *r, const ssm_adapter_options *o, int64_t row, int64_t D, int64_t B_max,
                     ssm_error *e) {
    ssm_input_shape in = {1, {row}};
    ssm_code rc = tu_rig_make(r, "bag_features", o, &in, D, B_max, e);
    if (rc == SSM_OK) {
        uint64_t st = 99;
        tu_fill_uniform(r->p.data, r->p.total, -1, 1, &st);
    }
    return rc;
}

// Runs a forward over bags of the given lengths; returns tokens and orders (malloc'd).
static void run(rig *r, const int64_t *len, int64_t n, const real *x, uint64_t key, real **tokens,
                int32_t **orders) {
    int64_t *off = malloc((size_t)(n + 1) * sizeof *off);
    off[0] = 0;
    for (int64_t b = 0; b < n; b++)
        off[b + 1] = off[b] + len[b];
    ssm_packing pk = {.n = n, .total = off[n], .offsets = off, .key = key};
    int64_t T = off[n] + n * r->a->ragged_extra;
    *tokens = malloc((size_t)(T * r->a->d_model) * sizeof(real));
    *orders = malloc((size_t)(r->a->n_orders * T) * sizeof(int32_t));
    r->a->pack = &pk;
    ssm_error e = {0};
    ck_assert_msg(ssm_adapter_forward(r->a, &r->p, *tokens, *orders, x, n, &e) == SSM_OK, "%s",
                  e.msg);
    r->a->pack = NULL;
    free(off);
}

START_TEST(every_order_keeps_each_bag_and_the_class_token_first) {
    const char *orders[] = {"identity", "reverse", "sr:3", "shuffle", "coords_snake",
                            "coords_hilbert", NULL};
    const int64_t len[] = {1, 7, 12, 5, 2}, n = 5, total = 27, F = 3, row = F + 2;
    for (int extra = 0; extra <= 1; extra++) {
        ssm_adapter_options o;
        opts(&o, (const char *const[]){"coords", "true", "max_tokens", "40", NULL}, orders);
        o.cls_token = extra ? SSM_CLS_HEAD : SSM_CLS_NONE;
        rig r;
        ssm_error e = {0};
        ck_assert_msg(make(&r, &o, row, 4, 8, &e) == SSM_OK, "%s", e.msg);
        ck_assert_int_eq(r.a->ragged, 1);
        ck_assert_int_eq(r.a->ragged_extra, extra);
        ck_assert_int_eq(r.a->cls_index, extra ? 0 : -1);
        ck_assert_int_eq(r.a->seq_len, 40);
        ck_assert_int_eq(r.a->n_orders, 6);
        ck_assert_str_eq(r.a->order_names[2], "sr:3");
        real x[27 * 5];
        uint64_t st = 5;
        tu_fill_uniform(x, (size_t)(total * row), -1, 1, &st);
        for (int64_t i = 0; i < total; i++) { // coordinates on a coarse grid, with repeats
            x[i * row + F] = (real)(256 * (int)(tu_uniform(&st) * 5));
            x[i * row + F + 1] = (real)(256 * (int)(tu_uniform(&st) * 5));
        }
        real *tok;
        int32_t *ord;
        run(&r, len, n, x, 42, &tok, &ord);
        int64_t T = total + n * extra;
        for (int o_ = 0; o_ < 6; o_++) {
            const int32_t *perm = ord + o_ * T;
            char *seen = calloc((size_t)T, 1);
            int64_t start = 0;
            for (int64_t b = 0; b < n; b++) {
                int64_t end = start + len[b] + extra;
                if (extra)
                    ck_assert_int_eq(perm[start], start);
                for (int64_t q = start; q < end; q++) {
                    ck_assert_msg(perm[q] >= start + (q > start ? extra : 0) && perm[q] < end,
                                  "order %s, bag %lld: step %lld reads %d outside [%lld, %lld)",
                                  orders[o_], (long long)b, (long long)q, perm[q],
                                  (long long)start, (long long)end);
                    ck_assert(!seen[perm[q]]);
                    seen[perm[q]] = 1;
                }
                start = end;
            }
            free(seen);
        }
        free(tok);
        free(ord);
        tu_rig_free(&r);
    }
}
END_TEST

// The instances (0-based within the bag) order `name` reads, one bag of n instances with
// coordinates xy (NULL: none) behind one bag of 3 (so offsets are not 0), with or without a
// class token.
static void bag_order(const char *name, int64_t n, const real *xy, int extra, int64_t *out) {
    const char *orders[] = {name, NULL};
    ssm_adapter_options o;
    opts(&o, (const char *const[]){"coords", xy ? "true" : "false", "max_tokens", "64", NULL},
         orders);
    o.cls_token = extra ? SSM_CLS_HEAD : SSM_CLS_NONE;
    rig r;
    ssm_error e = {0};
    int64_t F = 2, row = F + (xy ? 2 : 0);
    ck_assert_msg(make(&r, &o, row, 2, 2, &e) == SSM_OK, "%s", e.msg);
    real x[64 * 4] = {0};
    for (int64_t i = 0; xy && i < n; i++) {
        x[(3 + i) * row + F] = xy[2 * i];
        x[(3 + i) * row + F + 1] = xy[2 * i + 1];
    }
    real *tok;
    int32_t *ord;
    run(&r, (const int64_t[]){3, n}, 2, x, 7, &tok, &ord);
    int64_t first = 3 + extra + extra; // bag 1's first instance token
    for (int64_t s = 0; s < n; s++)
        out[s] = ord[first + s] - first;
    if (extra)
        ck_assert_int_eq(ord[3 + extra], 3 + extra);
    free(tok);
    free(ord);
    tu_rig_free(&r);
}

static void expect(const char *what, const int64_t *got, const int64_t *want, int64_t n) {
    for (int64_t s = 0; s < n; s++)
        ck_assert_msg(got[s] == want[s], "%s: step %lld reads %lld, expected %lld", what,
                      (long long)s, (long long)got[s], (long long)want[s]);
}

START_TEST(closed_form_orders_by_hand) {
    int64_t got[16];
    for (int extra = 0; extra <= 1; extra++) {
        bag_order("identity", 5, NULL, extra, got);
        expect("identity", got, (const int64_t[]){0, 1, 2, 3, 4}, 5);
        bag_order("reverse", 5, NULL, extra, got);
        expect("reverse", got, (const int64_t[]){4, 3, 2, 1, 0}, 5);
        bag_order("sr:3", 7, NULL, extra, got); // pad to 9: columns 0 3 6 | 1 4 (7) | 2 5 (8)
        expect("sr:3 of 7", got, (const int64_t[]){0, 3, 6, 1, 4, 2, 5}, 7);
        bag_order("sr:2", 5, NULL, extra, got);
        expect("sr:2 of 5", got, (const int64_t[]){0, 2, 4, 1, 3}, 5);
        bag_order("sr:4", 8, NULL, extra, got);
        expect("sr:4 of 8", got, (const int64_t[]){0, 4, 1, 5, 2, 6, 3, 7}, 8);
        bag_order("sr:8", 5, NULL, extra, got); // R >= n: the identity
        expect("sr:8 of 5", got, (const int64_t[]){0, 1, 2, 3, 4}, 5);
        bag_order("sr:1", 4, NULL, extra, got);
        expect("sr:1 of 4", got, (const int64_t[]){0, 1, 2, 3}, 4);
        bag_order("sr:3", 1, NULL, extra, got);
        expect("sr:3 of 1", got, (const int64_t[]){0}, 1);
    }
}
END_TEST

START_TEST(coords_orders_on_small_grids_by_hand) {
    int64_t got[16];
    // A 3 x 3 grid at a 256-pixel step from (1000, 512), stored out of order: instance i is
    // at grid (cx, cy) = CELL[i].
    static const int CELL[9][2] = {{2, 1}, {0, 0}, {1, 2}, {1, 0}, {0, 2},
                                   {2, 2}, {1, 1}, {0, 1}, {2, 0}};
    real xy[32];
    for (int i = 0; i < 9; i++) {
        xy[2 * i] = (real)(1000 + 256 * CELL[i][0]);
        xy[2 * i + 1] = (real)(512 + 256 * CELL[i][1]);
    }
    // snake: row 0 left to right (0,0) (1,0) (2,0); row 1 right to left (2,1) (1,1) (0,1);
    // row 2 left to right (0,2) (1,2) (2,2)
    for (int extra = 0; extra <= 1; extra++) {
        bag_order("coords_snake", 9, xy, extra, got);
        expect("snake 3x3", got, (const int64_t[]){1, 3, 8, 0, 6, 7, 4, 2, 5}, 9);
    }
    // a gap (no patch at (1,1)): the rows keep their parity from the grid, not the count
    real gap[16];
    static const int G[8][2] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {2, 1}, {0, 2}, {1, 2}, {2, 2}};
    for (int i = 0; i < 8; i++) {
        gap[2 * i] = (real)(256 * G[i][0]);
        gap[2 * i + 1] = (real)(256 * G[i][1]);
    }
    bag_order("coords_snake", 8, gap, 0, got);
    expect("snake with a gap", got, (const int64_t[]){0, 1, 2, 4, 3, 5, 6, 7}, 8);
    // Hilbert over a 4 x 4 grid (the curve of Wikipedia's figure): (0,0) (1,0) (1,1) (0,1)
    // (0,2) (0,3) (1,3) (1,2) (2,2) (2,3) (3,3) (3,2) (3,1) (2,1) (2,0) (3,0). Patches stored
    // row-major (instance = 4 cy + cx) at a 224-pixel step (not a power of two) from (448, 0).
    real h[32];
    for (int i = 0; i < 16; i++) {
        h[2 * i] = (real)(448 + 224 * (i % 4));
        h[2 * i + 1] = (real)(224 * (i / 4));
    }
    static const int CURVE[16][2] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 2}, {0, 3}, {1, 3}, {1, 2},
                                     {2, 2}, {2, 3}, {3, 3}, {3, 2}, {3, 1}, {2, 1}, {2, 0}, {3, 0}};
    int64_t want[16];
    for (int s = 0; s < 16; s++)
        want[s] = 4 * CURVE[s][1] + CURVE[s][0];
    for (int extra = 0; extra <= 1; extra++) {
        bag_order("coords_hilbert", 16, h, extra, got);
        expect("hilbert 4x4", got, want, 16);
    }
    // 2 x 2: up first, (0,0) (0,1) (1,1) (1,0); stored (1,1) (0,0) (1,0) (0,1)
    real h2[] = {256, 256, 0, 0, 256, 0, 0, 256};
    bag_order("coords_hilbert", 4, h2, 0, got);
    expect("hilbert 2x2", got, (const int64_t[]){1, 3, 0, 2}, 4);
    // equal coordinates: the stored order breaks the tie
    real same[] = {5, 5, 5, 5, 5, 5};
    bag_order("coords_hilbert", 3, same, 0, got);
    expect("hilbert ties", got, (const int64_t[]){0, 1, 2}, 3);
}
END_TEST

START_TEST(shuffle_is_fresh_per_key_and_reproducible) {
    const char *orders[] = {"shuffle", "shuffle", NULL};
    ssm_adapter_options o;
    opts(&o, (const char *const[]){"max_tokens", "64", NULL}, orders);
    rig r;
    ssm_error e = {0};
    ck_assert_int_eq(make(&r, &o, 2, 2, 4, &e), SSM_OK);
    real x[40 * 2] = {0};
    const int64_t len[] = {20, 20};
    real *t1, *t2, *t3;
    int32_t *o1, *o2, *o3;
    run(&r, len, 2, x, 1234, &t1, &o1);
    run(&r, len, 2, x, 1234, &t2, &o2);
    run(&r, len, 2, x, 1235, &t3, &o3);
    ck_assert_mem_eq(o1, o2, 80 * sizeof(int32_t));           // the same key, the same
    ck_assert(memcmp(o1, o3, 40 * sizeof(int32_t)) != 0);     // another batch, another
    ck_assert(memcmp(o1, o1 + 40, 40 * sizeof(int32_t)) != 0); // two orders differ
    ck_assert(memcmp(o1, o1 + 20, 20 * sizeof(int32_t)) != 0); // bags differ (shifted)
    int moved = 0;
    for (int q = 0; q < 20; q++)
        moved += o1[q] != q;
    ck_assert_int_gt(moved, 10);
    free(t1), free(t2), free(t3), free(o1), free(o2), free(o3);
    tu_rig_free(&r);
}
END_TEST

static double act_ref(const char *act, double v) {
    if (!strcmp(act, "gelu"))
        return 0.5 * v * (1 + erf(v / sqrt(2.0)));
    if (!strcmp(act, "relu"))
        return v > 0 ? v : 0;
    return v;
}

START_TEST(tokens_match_naive_math) {
    const char *acts[] = {"gelu", "relu", "none"};
    const int64_t len[] = {3, 1, 4}, n = 3, total = 8, F = 5, D = 6;
    for (int ai = 0; ai < 3; ai++)
        for (int extra = 0; extra <= 1; extra++) {
            ssm_adapter_options o;
            opts(&o, (const char *const[]){"act", acts[ai], "coords", "true", "max_tokens", "8",
                                           NULL}, NULL);
            o.cls_token = extra ? SSM_CLS_HEAD : SSM_CLS_DEFAULT;
            rig r;
            ssm_error e = {0};
            ck_assert_int_eq(make(&r, &o, F + 2, D, 3, &e), SSM_OK);
            ck_assert_int_eq(r.a->n_orders, 2); // identity, reverse
            ck_assert_str_eq(r.a->order_names[1], "reverse");
            real x[8 * 7];
            uint64_t st = 11 + ai;
            tu_fill_uniform(x, (size_t)(total * (F + 2)), -2, 2, &st);
            real *tok, *tok2;
            int32_t *ord, *ord2;
            run(&r, len, n, x, 0, &tok, &ord);
            const real *W = ssm_params_data(&r.p, ssm_params_find(&r.p, "_fc1.0.weight"));
            const real *bias = ssm_params_data(&r.p, ssm_params_find(&r.p, "_fc1.0.bias"));
            const real *cls = extra ? ssm_params_data(&r.p, ssm_params_find(&r.p, "cls_token"))
                                    : NULL;
            int64_t q = 0, i = 0;
            for (int64_t b = 0; b < n; b++) {
                for (int64_t k = 0; k < extra; k++, q++)
                    for (int64_t d = 0; d < D; d++)
                        ck_assert_double_eq(tok[q * D + d], cls[d]);
                for (int64_t k = 0; k < len[b]; k++, q++, i++)
                    for (int64_t d = 0; d < D; d++) {
                        double s = bias[d];
                        for (int64_t f = 0; f < F; f++)
                            s += (double)x[i * (F + 2) + f] * W[d * F + f];
                        ck_assert_double_eq_tol(tok[q * D + d], act_ref(acts[ai], s), 1e-5);
                    }
            }
            for (int64_t k = 0; k < total; k++) // the coordinates are not embedded
                x[k * (F + 2) + F] += 1000, x[k * (F + 2) + F + 1] -= 77;
            run(&r, len, n, x, 0, &tok2, &ord2);
            ck_assert_mem_eq(tok, tok2, (size_t)((total + n * extra) * D) * sizeof(real));
            free(tok), free(ord), free(tok2), free(ord2);
            tu_rig_free(&r);
        }
}
END_TEST

static void refused(const char *const *kv, const char *const *orders, ssm_cls_position cls,
                    int64_t row, const char *needle) {
    ssm_adapter_options o;
    opts(&o, kv, orders);
    o.cls_token = cls;
    rig r;
    ssm_error e = {0};
    ssm_code rc = make(&r, &o, row, 4, 2, &e);
    ck_assert_msg(rc != SSM_OK && strstr(e.msg, needle), "expected '%s', got '%s'", needle,
                  e.msg);
}

START_TEST(bad_options_are_refused_at_create) {
    const char *mt[] = {"max_tokens", "16", NULL};
    refused(NULL, NULL, SSM_CLS_NONE, 4, "option max_tokens = 0");
    refused((const char *const[]){"max_tokens", "0", NULL}, NULL, SSM_CLS_NONE, 4,
            "data.max_tokens");
    refused((const char *const[]){"max_tokens", "many", NULL}, NULL, SSM_CLS_NONE, 4,
            "not an integer");
    refused((const char *const[]){"max_tokens", "16", "dropout", "0.1", NULL}, NULL,
            SSM_CLS_NONE, 4, "unknown option 'dropout'; known: coords, act, max_tokens");
    refused((const char *const[]){"max_tokens", "16", "act", "tanh", NULL}, NULL, SSM_CLS_NONE,
            4, "act = 'tanh'; known: gelu, relu, none");
    refused((const char *const[]){"max_tokens", "16", "coords", "maybe", NULL}, NULL,
            SSM_CLS_NONE, 4, "coords = 'maybe', expected true or false");
    refused(mt, NULL, SSM_CLS_MIDDLE, 4, "cls_token = middle");
    refused(mt, (const char *const[]){"coords_hilbert", NULL}, SSM_CLS_NONE, 4,
            "'coords_hilbert' reads the patch coordinates: set the adapter option coords: true");
    refused(mt, (const char *const[]){"identity", "sr:0", NULL}, SSM_CLS_NONE, 4,
            "'sr:0': expected sr:R with R an integer >= 1");
    refused(mt, (const char *const[]){"sr:4x", NULL}, SSM_CLS_NONE, 4, "sr:R");
    refused(mt, (const char *const[]){"zigzag", NULL}, SSM_CLS_NONE, 4,
            "unknown scan order 'zigzag'; known: identity, reverse, sr:R, shuffle, "
            "coords_snake, coords_hilbert");
    refused((const char *const[]){"max_tokens", "16", "coords", "true", NULL}, NULL,
            SSM_CLS_NONE, 2, "expected [F] + 2 coordinates");
    ssm_adapter_options o;
    opts(&o, mt, NULL);
    ssm_params p;
    ssm_params_init(&p);
    ssm_input_shape in2 = {2, {3, 4}};
    ssm_adapter *a;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_adapter_create(&a, "bag_features", &o, &in2, 4, &p, "", &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "one instance's shape is [3, 4], expected [F]"));
    ssm_params_free(&p);
}
END_TEST

START_TEST(bad_batches_are_refused_at_forward) {
    ssm_adapter_options o;
    opts(&o, (const char *const[]){"max_tokens", "10", "coords", "true", NULL}, NULL);
    rig r;
    ssm_error e = {0};
    ck_assert_int_eq(make(&r, &o, 4, 3, 3, &e), SSM_OK);
    real x[12 * 4] = {0}, tok[12 * 3];
    int32_t ord[2 * 12];
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 2, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "needs the batch's packing"));
    int64_t off[] = {0, 4, 9};
    ssm_packing pk = {.n = 2, .total = 9, .offsets = off};
    r.a->pack = &pk;
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 3, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "batch of 3 bags, the packing has 2"));
    int64_t big[] = {0, 4, 11};
    ssm_packing pk2 = {.n = 2, .total = 11, .offsets = big};
    r.a->pack = &pk2;
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 2, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "11 tokens, the plan holds 10") && strstr(e.msg, "max_tokens 10"),
                  "%s", e.msg);
    int64_t empty[] = {0, 4, 4};
    ssm_packing pk3 = {.n = 2, .total = 4, .offsets = empty};
    r.a->pack = &pk3;
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 2, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "sequence 1 is empty"));
    r.a->pack = &pk;
    x[6 * 4 + 1] = NAN; // bag 1, instance 2, feature 1
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 2, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "bag 1 (of the batch), instance 2, feature 1 is nan"), "%s", e.msg);
    x[6 * 4 + 1] = 0;
    x[3 * 4 + 3] = 3e9f; // bag 0, instance 3, y
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 2, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "bag 0 (of the batch), instance 3, coordinate y"), "%s", e.msg);
    x[3 * 4 + 3] = 0;
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, 2, &e), SSM_OK);
    r.a->pack = NULL;
    tu_rig_free(&r);
}
END_TEST

int main(void) {
    Suite *su = suite_create("bag_adapter");
    TCase *tc = tcase_create("bag_adapter");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_order_keeps_each_bag_and_the_class_token_first);
    tcase_add_test(tc, closed_form_orders_by_hand);
    tcase_add_test(tc, coords_orders_on_small_grids_by_hand);
    tcase_add_test(tc, shuffle_is_fresh_per_key_and_reproducible);
    tcase_add_test(tc, tokens_match_naive_math);
    tcase_add_test(tc, bad_options_are_refused_at_create);
    tcase_add_test(tc, bad_batches_are_refused_at_forward);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
