// Check suite: packed (ragged) rows through the CUDA backbone (mamba_stack_forward_packed_cuda
// / _backward_packed_cuda, backbone/mamba_cuda.h). Sequences of lengths 1, 2, 7, 64, 65, 130
// and 1000 packed back to back in one row run through a 2-layer stack; every sequence is also
// run alone through the dense calls (mamba_stack_forward_cuda / _backward_cuda, a stack
// planned for B = 1, L = its length) with the slices of the same input, output gradient and
// orders. Compared: the output and din of every sequence on its own (norm-wise relative error
// per sequence, so a length-1 sequence is not hidden by the long ones), and every parameter
// gradient tensor by name against the sum of the sequences' gradients (the packed loss is
// the sum of theirs). Orders: identity + reverse within each sequence; a K = 4 schedule over
// four orders (identity, reverse, two shuffles within each sequence) that changes between
// layers. A leak across a boundary (a scan state, a conv tap, a gradient) is an O(1) error on
// the short sequences.
//
// Bars (fp32): 1e-5 per sequence for out and din, 5e-5 per gradient tensor -- the bars of
// tests/test_cuda_backbone.c. The packed run is not bit-identical to the alone runs: a
// sequence sits at another offset of the scan's tiles (its products and carries associate in
// another order), the GEMMs see another number of rows (cuBLAS may pick another kernel and
// summation order), and the weight gradients sum the same terms in one product instead of
// one per sequence. Each case prints its worst errors. bf16 packed against the fp32 alone
// runs: 1e-2 for out and din over the row, 3e-2 per gradient tensor (tests/test_cuda_bf16.c
// says why), and 5e-2 per sequence (a leak is still O(1)). Two packed runs are bit-identical.
// A row of 100,000 tokens (d_model 128: d_inner 256) in three sequences checks the long-bag
// case the same way and prints the packed and dense (the same row unsplit) times.
//
// Built without CUDA=1, sanitized or double, or with no GPU: prints why it skips, passes.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "tests/cuda_backbone_fixture.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#define TOL_BF16_SEQ 5e-2

static const int64_t LENS[] = {1, 2, 7, 64, 65, 130, 1000};
#define N_LENS 7

typedef enum { ORD_IDREV, ORD_SCHED4 } order_kind;

// Host orders of the packed row: [count, total].
static int32_t *packed_orders(order_kind kind, const int64_t *off, int64_t n, int64_t *count,
                              uint64_t *st) {
    const int64_t T = off[n];
    *count = kind == ORD_IDREV ? 2 : 4;
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(*count * T));
    pk_perm_identity(perm, off, n);
    pk_perm_reverse(perm + T, off, n);
    for (int64_t c = 2; c < *count; c++)
        pk_perm_shuffle(perm + c * T, off, n, st);
    return perm;
}

typedef struct {
    int64_t B_max, L; // the packed stack's plan (total <= B_max * L)
    int bf16;
    int determinism;
    const int32_t *schedule;
} case_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ms per packed (pk) or dense (pk NULL: B = 1 over the planned row) forward + backward
static double time_step(gstack *g, ssm_params *dev, real *out_d, real *din_d, const real *in_d,
                        const real *dout_d, const mamba_orders *od, const ssm_packing *pk) {
    ssm_error e = {0};
    const int reps = 3;
    double t0 = 0;
    for (int r = 0; r <= reps; r++) { // the first is a warm-up
        if (r == 1) {
            CUDA_CHECK_ABORT(cudaDeviceSynchronize());
            t0 = now_s();
        }
        ssm_code c1 = pk ? mamba_stack_forward_packed_cuda(g->s, dev, out_d, in_d, od, pk, &e)
                         : mamba_stack_forward_cuda(g->s, dev, out_d, in_d, od, 1, &e);
        ck_assert_msg(c1 == SSM_OK, "%s", e.msg);
        ssm_code c2 = pk ? mamba_stack_backward_packed_cuda(g->s, dev, din_d, dout_d, od, pk, &e)
                         : mamba_stack_backward_cuda(g->s, dev, din_d, dout_d, od, 1, &e);
        ck_assert_msg(c2 == SSM_OK, "%s", e.msg);
    }
    CUDA_CHECK_ABORT(cudaDeviceSynchronize());
    return (now_s() - t0) * 1e3 / reps;
}

static void packed_case(mamba_config cfg, const int64_t *lens, int64_t n, order_kind kind,
                        case_opts opt, uint64_t seed, int timing) {
    net hn;
    pk_net_init(&hn, cfg, seed);
    ssm_error e = {0};
    ssm_params dev;
    ck_assert_msg(ssm_params_cuda_mirror(&dev, &hn.p, &e) == SSM_OK, "%s", e.msg);
    if (opt.bf16)
        ck_assert_msg(ssm_params_cuda_shadow_bf16(&dev, &e) == SSM_OK, "%s", e.msg);
    int64_t *off = pk_offsets(lens, n);
    const int64_t T = off[n], D = cfg.d_model;
    const size_t nld = (size_t)(T * D), tot = hn.p.total;
    uint64_t st = seed * 7919 + 3;
    int64_t count;
    int32_t *perm = packed_orders(kind, off, n, &count, &st);
    real *in = malloc(sizeof(real) * nld), *dout = malloc(sizeof(real) * nld);
    tu_fill_uniform(in, nld, -1, 1, &st);
    tu_fill_uniform(dout, nld, -1, 1, &st);

    // packed
    mamba_config pc = cfg;
    pc.precision = opt.bf16 ? MAMBA_BF16 : MAMBA_FP32;
    gstack g;
    gstack_init(&g, &pc, opt.B_max, opt.L);
    int64_t *off_d = dev_copy(off, sizeof(int64_t) * (size_t)(n + 1));
    ssm_packing pk = {.n = n, .total = T, .offsets = off, .d_offsets = off_d, .key = 0};
    int32_t *perm_d = dev_copy(perm, sizeof(int32_t) * (size_t)(count * T));
    mamba_orders od = {.count = count, .perm = perm_d, .schedule = opt.schedule};
    real *in_d = dev_copy(in, nld * sizeof(real)), *dout_d = dev_copy(dout, nld * sizeof(real));
    pk_result pr = pk_gpu_packed(&g, &dev, in_d, dout_d, &od, &pk, D);
    if (opt.determinism) {
        pk_result p2 = pk_gpu_packed(&g, &dev, in_d, dout_d, &od, &pk, D);
        ck_assert_msg(memcmp(pr.out, p2.out, nld * sizeof(real)) == 0, "out differs between runs");
        ck_assert_msg(memcmp(pr.din, p2.din, nld * sizeof(real)) == 0, "din differs between runs");
        ck_assert_msg(memcmp(pr.grad, p2.grad, tot * sizeof(real)) == 0,
                      "parameter gradients differ between runs");
        pk_result_free(&p2);
    }
    double ms_packed = 0, ms_dense = 0;
    if (timing) {
        real *out_d, *din_d;
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc((void **)&out_d, nld * sizeof(real), "test"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc((void **)&din_d, nld * sizeof(real), "test"));
        ms_packed = time_step(&g, &dev, out_d, din_d, in_d, dout_d, &od, &pk);
        if (opt.B_max == 1 && opt.L == T) // the same row unsplit (the perms stay permutations)
            ms_dense = time_step(&g, &dev, out_d, din_d, in_d, dout_d, &od, NULL);
        ssm_cuda_free(out_d);
        ssm_cuda_free(din_d);
    }
    gstack_free(&g);

    // each sequence alone, fp32, dense calls
    real *out = malloc(sizeof(real) * nld), *din = malloc(sizeof(real) * nld);
    double *grad = calloc(tot, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        const int64_t t0 = off[i], m = lens[i];
        const size_t mD = (size_t)(m * D);
        gstack a;
        gstack_init(&a, &cfg, 1, m);
        int32_t *pa = malloc(sizeof(int32_t) * (size_t)(count * m));
        for (int64_t c = 0; c < count; c++)
            for (int64_t t = 0; t < m; t++)
                pa[c * m + t] = perm[c * T + t0 + t] - (int32_t)t0;
        int32_t *pa_d = dev_copy(pa, sizeof(int32_t) * (size_t)(count * m));
        mamba_orders oa = {.count = count, .perm = pa_d, .schedule = opt.schedule};
        real *ia_d = dev_copy(in + t0 * D, mD * sizeof(real));
        real *ga_d = dev_copy(dout + t0 * D, mD * sizeof(real));
        real *oa_d, *da_d;
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc((void **)&oa_d, mD * sizeof(real), "test"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc((void **)&da_d, mD * sizeof(real), "test"));
        CUDA_CHECK_ABORT(cudaMemset(da_d, 0, mD * sizeof(real)));
        CUDA_CHECK_ABORT(cudaMemset(dev.grad, 0, tot * sizeof(real)));
        ck_assert_msg(mamba_stack_forward_cuda(a.s, &dev, oa_d, ia_d, &oa, 1, &e) == SSM_OK,
                      "alone %lld: %s", (long long)i, e.msg);
        ck_assert_msg(mamba_stack_backward_cuda(a.s, &dev, da_d, ga_d, &oa, 1, &e) == SSM_OK,
                      "alone %lld: %s", (long long)i, e.msg);
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(out + t0 * D, oa_d, mD * sizeof(real)));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(din + t0 * D, da_d, mD * sizeof(real)));
        ck_assert_msg(ssm_params_cuda_download(&a.decl, &dev, 1, &e) == SSM_OK, "%s", e.msg);
        for (size_t j = 0; j < tot; j++)
            grad[j] += a.decl.grad[j];
        void *ds[] = {pa_d, ia_d, ga_d, oa_d, da_d};
        for (int j = 0; j < 5; j++)
            ssm_cuda_free(ds[j]);
        free(pa);
        gstack_free(&a);
    }

    // compare
    const double t_seq = opt.bf16 ? TOL_BF16_SEQ : TOL, t_grad = opt.bf16 ? TOL_BF16_GRAD : TOL_GRAD;
    double wo = 0, wd = 0;
    int64_t io = 0, id = 0;
    for (int64_t i = 0; i < n; i++) {
        double eo = pk_seq_err(pr.out, out, off, i, D), ed = pk_seq_err(pr.din, din, off, i, D);
        ck_assert_msg(eo < t_seq, "out of sequence %lld (length %lld): rel err %.3g",
                      (long long)i, (long long)lens[i], eo);
        ck_assert_msg(ed < t_seq, "din of sequence %lld (length %lld): rel err %.3g",
                      (long long)i, (long long)lens[i], ed);
        if (eo > wo)
            wo = eo, io = i;
        if (ed > wd)
            wd = ed, id = i;
    }
    const double ea = tu_rel_err(pr.out, out, nld), eda = tu_rel_err(pr.din, din, nld);
    if (opt.bf16) {
        ck_assert_msg(ea < TOL_BF16, "bf16 out: rel err %.3g over the row", ea);
        ck_assert_msg(eda < TOL_BF16, "bf16 din: rel err %.3g over the row", eda);
    }
    double wg = 0;
    const char *wn = "";
    real *gsum = malloc(sizeof(real) * tot);
    for (size_t j = 0; j < tot; j++)
        gsum[j] = (real)grad[j];
    for (size_t k = 0; k < hn.p.count; k++) {
        const ssm_param_info *it = &hn.p.items[k];
        double r = tu_rel_err(pr.grad + it->offset, gsum + it->offset, it->numel);
        for (size_t j = 0; j < it->numel; j++)
            if (isnan(pr.grad[it->offset + j]))
                r = INFINITY;
        ck_assert_msg(r < t_grad, "gradient of %s: rel err %.3g", it->name, r);
        if (r > wg)
            wg = r, wn = it->name;
    }
    printf("  %s K=%d %s %lld sequences, %lld tokens (plan %lldx%lld), %lld orders%s: worst "
           "rel err out %.2g (length %lld), din %.2g (length %lld); over the row out %.2g, din "
           "%.2g; worst gradient %.2g (%s)\n",
           opt.bf16 ? "bf16" : "fp32", cfg.n_branches, cfg.norm == MAMBA_NORM_LAYER ? "LN" : "RMS",
           (long long)n, (long long)T, (long long)opt.B_max, (long long)opt.L, (long long)count,
           opt.schedule ? " (scheduled)" : "", wo, (long long)lens[io], wd, (long long)lens[id],
           ea, eda, wg, wn);
    if (timing)
        printf("  %lld tokens, d_model %lld, %lld layer(s): forward + backward %.2f ms packed "
               "(%lld sequences)%s%.2f ms dense (one sequence); %.2f Mtokens/s packed\n",
               (long long)T, (long long)D, (long long)cfg.n_layers, ms_packed, (long long)n,
               ms_dense > 0 ? ", " : "", ms_dense, (double)T / ms_packed * 1e-3);

    pk_result_free(&pr);
    free(gsum), free(grad), free(out), free(din), free(perm), free(in), free(dout), free(off);
    ssm_cuda_free(off_d), ssm_cuda_free(perm_d), ssm_cuda_free(in_d), ssm_cuda_free(dout_d);
    ssm_params_cuda_free(&dev);
    net_free(&hn);
}

static int64_t sum_lens(const int64_t *lens, int64_t n) {
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += lens[i];
    return s;
}

// identity + reverse, RMSNorm, chunk 5 (checkpoints inside the scan's lane segments)
START_TEST(idrev_two_layers) {
    mamba_config c = cfg_small(2, 2);
    case_opts o = {.B_max = 1, .L = sum_lens(LENS, N_LENS), .determinism = 1};
    packed_case(c, LENS, N_LENS, ORD_IDREV, o, 101, 0);
}
END_TEST

// K = 4 over 4 orders with a schedule that changes between layers (one order twice), sum
// merge, LayerNorm, N 16, chunk 16; planned as 3 rows of 500: the row of 1269 tokens is
// longer than the planned L and fits B_max * L.
START_TEST(sched4_layernorm_multirow_plan) {
    mamba_config c = cfg_small(4, 2);
    c.norm = MAMBA_NORM_LAYER;
    c.merge = MAMBA_MERGE_SUM;
    c.d_state = 16;
    c.scan_chunk = 16;
    static const int32_t sched[8] = {0, 1, 2, 3, 3, 1, 1, 0};
    case_opts o = {.B_max = 3, .L = 500, .determinism = 1, .schedule = sched};
    packed_case(c, LENS, N_LENS, ORD_SCHED4, o, 202, 0);
}
END_TEST

START_TEST(bf16_idrev) {
    mamba_config c = cfg_small(2, 2);
    c.d_model = 32;
    c.d_state = 16;
    c.scan_chunk = 16;
    case_opts o = {.B_max = 1, .L = sum_lens(LENS, N_LENS), .bf16 = 1};
    packed_case(c, LENS, N_LENS, ORD_IDREV, o, 303, 0);
}
END_TEST

// The long-bag case: 100,000 tokens at d_model 128 (d_inner 256), one row, B = 1.
START_TEST(long_row_100k) {
    mamba_config c = cfg_small(2, 1);
    c.d_model = 128;
    c.d_state = 16;
    c.scan_chunk = 64;
    const int64_t lens[3] = {70000, 29999, 1};
    case_opts o = {.B_max = 1, .L = 100000};
    packed_case(c, lens, 3, ORD_IDREV, o, 404, 1);
}
END_TEST

// Bad packings are refused before anything runs, with the reason.
START_TEST(bad_packing_refused) {
    mamba_config c = cfg_small(1, 1);
    net hn;
    pk_net_init(&hn, c, 7);
    ssm_error e = {0};
    ssm_params dev;
    ck_assert_msg(ssm_params_cuda_mirror(&dev, &hn.p, &e) == SSM_OK, "%s", e.msg);
    gstack g;
    gstack_init(&g, &c, 2, 10);
    real *buf = dev_copy(NULL, 0);
    int32_t *perm_d = dev_copy(NULL, 0);
    mamba_orders od = {.count = 1, .perm = perm_d, .schedule = NULL};
    const int64_t over[3] = {0, 15, 21}, empty[3] = {0, 4, 4}, fine[2] = {0, 8};
    ssm_packing pk = {.n = 2, .total = 21, .offsets = over, .d_offsets = (const int64_t *)buf};
    ck_assert_int_eq(mamba_stack_forward_packed_cuda(g.s, &dev, buf, buf, &od, &pk, &e),
                     SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "21 tokens") && strstr(e.msg, "B_max 2 x L 10"), "%s", e.msg);
    pk = (ssm_packing){.n = 2, .total = 4, .offsets = empty, .d_offsets = (const int64_t *)buf};
    ck_assert_int_eq(mamba_stack_backward_packed_cuda(g.s, &dev, buf, buf, &od, &pk, &e),
                     SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "sequence 1 is empty"), "%s", e.msg);
    pk = (ssm_packing){.n = 1, .total = 8, .offsets = fine, .d_offsets = NULL};
    ck_assert_int_eq(mamba_stack_forward_packed_cuda(g.s, &dev, buf, buf, &od, &pk, &e),
                     SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "d_offsets"), "%s", e.msg);
    ssm_cuda_free(buf), ssm_cuda_free(perm_d);
    gstack_free(&g);
    ssm_params_cuda_free(&dev);
    net_free(&hn);
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_backbone_packed:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_backbone_packed");
    TCase *tc = tcase_create("packed");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, bad_packing_refused);
    tcase_add_test(tc, idrev_two_layers);
    tcase_add_test(tc, sched4_layernorm_multirow_plan);
    tcase_add_test(tc, bf16_idrev);
    tcase_add_test(tc, long_row_100k);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
