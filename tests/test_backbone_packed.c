// Check suite: the CPU backbone on packed (ragged) batches (mamba_stack_forward_packed /
// _backward_packed, core/packing.h), float.
//
// The bar: a packed row of sequences gives, for every sequence, the output and the input
// gradient of that sequence run alone (mamba_stack_forward / _backward with B = 1 and L =
// its length, same parameters, the same orders restricted to it), and parameter
// gradients equal to the sum of the separate runs' gradients. The conv and the scan are
// bit for bit the same on a segment (tests/test_kernels_packed.c); what differs is the
// float rounding of the rest: the GEMMs run on other shapes (one row of `total` tokens
// instead of `len`, so BLAS blocks them differently) and the parameter gradients are
// sums over tokens in another order. Measured here (generic, AVX2, AVX-512; 1 and 2
// threads): out and din agree to <= 5e-8 relative per sequence, parameter gradients to
// <= 5e-7 per tensor; held to BAR_ACT = 1e-6 and BAR_GRAD = 1e-5 (relative 2-norm error
// per sequence / per tensor). A conv window that reads across one sequence start misses
// by ~2e-2.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/backbone_fixture.h"
#include "tests/util/suite.h"

#define BAR_ACT 1e-6
#define BAR_GRAD 1e-5
#define MAX_SEQS 16

// lengths below d_conv (1, 2), one chunk (64) and just past it (65), two chunks and more
static const int64_t LENS[] = {1, 2, 7, 64, 65, 130};
#define N_LENS 6

typedef struct {
    int64_t n, total, off[MAX_SEQS + 1];
    ssm_packing pk;
} packing;

static void packing_init(packing *q, const int64_t *len, int64_t n) {
    q->n = n;
    q->off[0] = 0;
    for (int64_t i = 0; i < n; i++)
        q->off[i + 1] = q->off[i] + len[i];
    q->total = q->off[n];
    q->pk = (ssm_packing){.n = n, .total = q->total, .offsets = q->off};
}

// Orders of a packed row: 0 identity, 1 reverse, 2.. random within each sequence.
static int32_t *packed_orders(const packing *q, int64_t count, uint64_t seed) {
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(count * q->total));
    uint64_t st = seed;
    mamba_order_identity_packed(perm, &q->pk);
    if (count > 1)
        mamba_order_reverse_packed(perm + q->total, &q->pk);
    for (int64_t c = 2; c < count; c++)
        for (int64_t i = 0; i < q->n; i++) {
            int32_t *row = perm + c * q->total + q->off[i];
            random_perm(row, q->off[i + 1] - q->off[i], &st);
            for (int64_t l = 0; l < q->off[i + 1] - q->off[i]; l++)
                row[l] += (int32_t)q->off[i];
        }
    return perm;
}

typedef struct {
    real *out, *din; // [total, D]
    double *grad;    // [p.total]: parameter gradients (summed in double for the separate runs)
} result;

// Every sequence of the row through its own stack planned for (1, len): out, din, and the
// parameter gradients summed over the sequences.
static void run_alone(result *r, const net *ref, const packing *q, const int32_t *perm,
                      int64_t count, const int32_t *sched, const real *in, const real *dout) {
    const int64_t D = ref->cfg.d_model;
    r->out = calloc((size_t)(q->total * D), sizeof(real));
    r->din = calloc((size_t)(q->total * D), sizeof(real));
    r->grad = calloc(ref->p.total, sizeof(double));
    for (int64_t i = 0; i < q->n; i++) {
        const int64_t lo = q->off[i], len = q->off[i + 1] - lo;
        net a;
        net_init(&a, ref->cfg, 1, len, 1);
        ck_assert_uint_eq(a.p.total, ref->p.total);
        memcpy(a.p.data, ref->p.data, sizeof(real) * ref->p.total);
        int32_t *pa = malloc(sizeof(int32_t) * (size_t)(count * len));
        for (int64_t c = 0; c < count; c++)
            for (int64_t l = 0; l < len; l++)
                pa[c * len + l] = perm[c * q->total + lo + l] - (int32_t)lo;
        mamba_orders o = {.count = count, .perm = pa, .schedule = sched};
        ssm_error e = {0};
        ck_assert_msg(mamba_orders_check(a.s, &o, 1, &e) == SSM_OK, "%s", e.msg);
        ssm_params_zero_grad(&a.p);
        mamba_stack_forward(a.s, &a.p, r->out + lo * D, in + lo * D, &o, 1);
        mamba_stack_backward(a.s, &a.p, r->din + lo * D, dout + lo * D, &o, 1);
        for (size_t j = 0; j < a.p.total; j++)
            r->grad[j] += a.p.grad[j];
        free(pa);
        net_free(&a);
    }
}

static void result_free(result *r) { free(r->out), free(r->din), free(r->grad); }

// ||a - b|| / ||b|| over n, b in double
static double rel_d(const real *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}

// The packed run of net n (planned by the caller) against every sequence alone.
static void check_packed(net *n, const packing *q, int64_t count, const int32_t *sched,
                         uint64_t seed, const char *label) {
    const int64_t D = n->cfg.d_model, T = q->total;
    int32_t *perm = packed_orders(q, count, seed);
    mamba_orders o = {.count = count, .perm = perm, .schedule = sched};
    ssm_error e = {0};
    ck_assert_msg(mamba_orders_check_packed(n->s, &o, &q->pk, &e) == SSM_OK, "%s", e.msg);
    uint64_t st = seed + 1;
    real *in = malloc(sizeof(real) * (size_t)(T * D)), *dout = malloc(sizeof(real) * (size_t)(T * D));
    tu_fill_uniform(in, (size_t)(T * D), -1, 1, &st);
    tu_fill_uniform(dout, (size_t)(T * D), -1, 1, &st);
    real *out = malloc(sizeof(real) * (size_t)(T * D)), *din = calloc((size_t)(T * D), sizeof(real));
    ssm_params_zero_grad(&n->p);
    mamba_stack_forward_packed(n->s, &n->p, out, in, &o, &q->pk);
    mamba_stack_backward_packed(n->s, &n->p, din, dout, &o, &q->pk);

    result al;
    run_alone(&al, n, q, perm, count, sched, in, dout);
    double worst_act = 0, worst_grad = 0;
    for (int64_t i = 0; i < q->n; i++) {
        const int64_t lo = q->off[i], len = q->off[i + 1] - lo;
        const size_t m = (size_t)(len * D);
        double eo = tu_rel_err(out + lo * D, al.out + lo * D, m);
        double ed = tu_rel_err(din + lo * D, al.din + lo * D, m);
        ck_assert_msg(eo < BAR_ACT, "%s: sequence %ld (len %ld): out rel err %g vs alone", label,
                      (long)i, (long)len, eo);
        ck_assert_msg(ed < BAR_ACT, "%s: sequence %ld (len %ld): din rel err %g vs alone", label,
                      (long)i, (long)len, ed);
        worst_act = fmax(worst_act, fmax(eo, ed));
    }
    for (size_t t = 0; t < n->p.count; t++) {
        const ssm_param_info *it = &n->p.items[t];
        double eg = rel_d(n->p.grad + it->offset, al.grad + it->offset, it->numel);
        ck_assert_msg(eg < BAR_GRAD, "%s: %s: gradient rel err %g vs the sum over sequences alone",
                      label, it->name, eg);
        worst_grad = fmax(worst_grad, eg);
    }
    printf("  %-44s out/din %.1e, parameter gradients %.1e\n", label, worst_act, worst_grad);
    result_free(&al);
    free(perm), free(in), free(dout), free(out), free(din);
}

static mamba_config cfg_packed(int64_t chunk) {
    mamba_config c = cfg_small(2, 2); // d_model 16, d_state 8, 2 layers, K = 2
    c.scan_chunk = chunk;
    return c;
}

START_TEST(two_layers_bidirectional_equals_sequences_alone) {
    packing q;
    packing_init(&q, LENS, N_LENS); // starts 0 1 3 10 74 139, total 269
    const int64_t chunks[] = {64, 5};  // 5: starts on (10) and beside chunk multiples
    for (int c = 0; c < 2; c++) {
        net n;
        net_init(&n, cfg_packed(chunks[c]), 1, q.total, 11); // plan (1, max tokens)
        perturb(&n, 12);
        check_packed(&n, &q, 2, NULL, 100, chunks[c] == 64 ? "2 layers {id, rev}, chunk 64"
                                                            : "2 layers {id, rev}, chunk 5");
        net_free(&n);
    }
}
END_TEST

START_TEST(four_order_schedule_equals_sequences_alone) {
    packing q;
    packing_init(&q, LENS, N_LENS);
    net n;
    net_init(&n, cfg_packed(64), 1, q.total, 21);
    perturb(&n, 22);
    // layer 0 scans {identity, random}, layer 1 {reverse, another random}
    const int32_t sched[] = {0, 2, 1, 3};
    check_packed(&n, &q, 4, sched, 200, "2 layers, 4 orders scheduled");
    net_free(&n);
}
END_TEST

START_TEST(dense_plan_serves_packed_batch_of_its_token_budget) {
    // a plan for (B_max 3, L 100) takes a packed row of up to 300 tokens, sequences longer
    // than L included; and its dense calls give the same bits before and after
    packing q;
    packing_init(&q, LENS, N_LENS); // 269 tokens, longest 130 > L
    mamba_config cfg = cfg_packed(64);
    cfg.norm = MAMBA_NORM_LAYER;
    cfg.merge = MAMBA_MERGE_SUM;
    net n;
    net_init(&n, cfg, 3, 100, 31);
    perturb(&n, 32);
    const int64_t D = cfg.d_model, BL = 3 * 100;
    int32_t *dp = malloc(sizeof(int32_t) * 2 * BL);
    mamba_order_identity(dp, 3, 100);
    mamba_order_reverse(dp + BL, 3, 100);
    mamba_orders od = {.count = 2, .perm = dp};
    uint64_t st = 5;
    real *x = malloc(sizeof(real) * (size_t)(BL * D)), *y1 = malloc(sizeof(real) * (size_t)(BL * D));
    real *y2 = malloc(sizeof(real) * (size_t)(BL * D));
    tu_fill_uniform(x, (size_t)(BL * D), -1, 1, &st);
    mamba_stack_forward(n.s, &n.p, y1, x, &od, 3);
    check_packed(&n, &q, 2, NULL, 300, "plan (3, 100), LayerNorm, merge sum");
    mamba_stack_forward(n.s, &n.p, y2, x, &od, 3);
    ck_assert(!memcmp(y1, y2, sizeof(real) * (size_t)(BL * D)));
    // 301 tokens do not fit
    const int64_t big[] = {150, 151};
    packing q2;
    packing_init(&q2, big, 2);
    int32_t *p2 = malloc(sizeof(int32_t) * 2 * 301);
    mamba_order_identity_packed(p2, &q2.pk);
    mamba_order_reverse_packed(p2 + 301, &q2.pk);
    mamba_orders o2 = {.count = 2, .perm = p2};
    ssm_error e = {0};
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o2, &q2.pk, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "301") && strstr(e.msg, "300"), "%s", e.msg);
    free(p2), free(dp), free(x), free(y1), free(y2);
    net_free(&n);
}
END_TEST

START_TEST(one_thread_equals_sequences_alone) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    packing q;
    packing_init(&q, LENS, N_LENS);
    net n;
    net_init(&n, cfg_packed(64), 1, q.total, 41);
    perturb(&n, 42);
    check_packed(&n, &q, 2, NULL, 400, "1 thread");
    net_free(&n);
    omp_set_num_threads(saved);
}
END_TEST

START_TEST(orders_check_refuses_a_perm_that_crosses_a_sequence) {
    packing q;
    packing_init(&q, LENS, N_LENS);
    net n;
    net_init(&n, cfg_packed(64), 1, q.total, 51);
    int32_t *perm = packed_orders(&q, 3, 9);
    mamba_orders o = {.count = 3, .perm = perm};
    ssm_error e = {0};
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &q.pk, &e), SSM_OK);
    // order 2, step 12 (sequence 3, positions 10..73) reads position 80 (sequence 4)
    int32_t *row = perm + 2 * q.total;
    int64_t j = 0;
    while (row[j] != 80)
        j++;
    int32_t t = row[12];
    row[12] = 80, row[j] = t;
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &q.pk, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "order 2") && strstr(e.msg, "sequence 3") &&
                      strstr(e.msg, "step 12") && strstr(e.msg, "position 80") &&
                      strstr(e.msg, "sequence 4"),
                  "%s", e.msg);
    row[j] = 80, row[12] = t;
    // a repeated position within its sequence
    row[20] = row[21];
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &q.pk, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "repeated"), "%s", e.msg);
    // the dense identity of the whole row is fine, its reverse crosses every sequence
    mamba_order_identity(perm, 1, q.total);
    mamba_order_reverse(perm + q.total, 1, q.total);
    o.count = 2;
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &q.pk, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "order 1") && strstr(e.msg, "sequence 0"), "%s", e.msg);
    // an invalid packing and a bad schedule
    int64_t bad_off[] = {0, 5, 5, q.total};
    ssm_packing bad = {.n = 3, .total = q.total, .offsets = bad_off};
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &bad, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "sequence 1 is empty"), "%s", e.msg);
    const int32_t sched[] = {0, 1, 1, 7};
    mamba_order_reverse_packed(perm + q.total, &q.pk);
    o.schedule = sched;
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &q.pk, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "schedule[layer 1][branch 1]"), "%s", e.msg);
    free(perm);
    net_free(&n);
}
END_TEST

START_TEST(packed_order_helpers) {
    const int64_t len[] = {3, 1, 4};
    packing q;
    packing_init(&q, len, 3);
    int32_t p[8];
    mamba_order_identity_packed(p, &q.pk);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(p[i], i);
    mamba_order_reverse_packed(p, &q.pk);
    const int32_t want[] = {2, 1, 0, 3, 7, 6, 5, 4};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(p[i], want[i]);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backbone_packed");
    TCase *tc = tcase_create("backbone_packed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, two_layers_bidirectional_equals_sequences_alone);
    tcase_add_test(tc, four_order_schedule_equals_sequences_alone);
    tcase_add_test(tc, dense_plan_serves_packed_batch_of_its_token_budget);
    tcase_add_test(tc, one_thread_equals_sequences_alone);
    tcase_add_test(tc, orders_check_refuses_a_perm_that_crosses_a_sequence);
    tcase_add_test(tc, packed_order_helpers);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
