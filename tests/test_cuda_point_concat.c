// Check suite: the CUDA twins of the trunk's concat layout (PointMamba's concatenated scan
// orders: tasks/trunk_concat.h, tasks/cuda/trunk_concat.h) against the CPU:
//  - each kernel on random orders (3 orders of 70 tokens, a width of 130 so that rows do not
//    fall on block boundaries): the inverses and the backbone's identity / reverse orders
//    exactly, the gather, the merge and its backward to 1e-6, the gather's backward
//    (dtokens onto random values, so += is checked; the order indicators' gradients, summed
//    in float on the device and in double on the CPU) to 1e-5, and the same bits on a second
//    run (no atomics);
//  - a whole training step of the model on point clouds with the concat layout (point_groups
//    trunk, Hilbert and trans-Hilbert concatenated): the segment head scanned forward, the
//    class head (mean pooling) scanned both ways; the loss and every gradient by name, GPU
//    against CPU from the same seed.
// Device outputs are poisoned (NaN) first so that an unwritten element fails.
// Skips (and passes) without CUDA=1, in the sanitized / double builds, or without a GPU.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "tasks/cuda/trunk_concat.h"
#include "tasks/head_segment.h"
#include "tasks/model.h"
#include "tasks/trunk_concat.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#include "tests/util/cuda_bytes.h"

static void random_perm(int32_t *row, int64_t L, uint64_t *st) {
    for (int64_t l = 0; l < L; l++)
        row[l] = (int32_t)l;
    for (int64_t l = L - 1; l > 0; l--) {
        int64_t j = (int64_t)(tu_uniform(st) * (double)(l + 1));
        int32_t t = row[l];
        row[l] = row[j];
        row[j] = t;
    }
}

START_TEST(kernels_match_cpu) {
    const int O = 3;
    const int64_t N = 5, L = 70, D = 130, K = 2;
    const size_t np = (size_t)(O * N * L), nt = (size_t)(N * L * D), ns = (size_t)(N * O * L * D);
    const size_t ng = (size_t)(O * D), nc = (size_t)(K * N * O * L);
    uint64_t st = 77;
    int32_t *perm = malloc(np * sizeof *perm), *inv = malloc(np * sizeof *inv);
    for (int64_t r = 0; r < O * N; r++)
        random_perm(perm + r * L, L, &st);
    real *tok = malloc(nt * sizeof(real)), *gam = malloc(ng * sizeof(real));
    real *bet = malloc(ng * sizeof(real)), *seq = malloc(ns * sizeof(real));
    real *feats = malloc(nt * sizeof(real)), *dfeats = malloc(nt * sizeof(real));
    real *dout = malloc(ns * sizeof(real)), *dseq = malloc(ns * sizeof(real));
    real *dtok = malloc(nt * sizeof(real)), *dg = malloc(ng * sizeof(real));
    real *db = malloc(ng * sizeof(real)), *out = malloc(ns * sizeof(real));
    int32_t *cat = malloc(nc * sizeof *cat);
    tu_fill_uniform(tok, nt, -1, 1, &st);
    tu_fill_uniform(gam, ng, 0.5, 1.5, &st);
    tu_fill_uniform(bet, ng, -0.2, 0.2, &st);
    tu_fill_uniform(out, ns, -1, 1, &st);
    tu_fill_uniform(dfeats, nt, -1, 1, &st);
    tu_fill_uniform(dseq, ns, -1, 1, &st);
    tu_fill_uniform(dtok, nt, -1, 1, &st);
    tu_fill_uniform(dg, ng, -1, 1, &st);
    tu_fill_uniform(db, ng, -1, 1, &st);
    real *dtok0 = malloc(nt * sizeof(real)), *dg0 = malloc(ng * sizeof(real));
    memcpy(dtok0, dtok, nt * sizeof(real));
    memcpy(dg0, dg, ng * sizeof(real));
    // device copies of the inputs and of the accumulators' starting values
    int32_t *d_perm = dev_copy(perm, np * sizeof *perm), *d_inv = dev_poison(np * sizeof *inv);
    int32_t *d_cat = dev_poison(nc * sizeof *cat);
    real *d_tok = dev_copy(tok, nt * sizeof(real)), *d_gam = dev_copy(gam, ng * sizeof(real));
    real *d_bet = dev_copy(bet, ng * sizeof(real)), *d_seq = dev_poison(ns * sizeof(real));
    real *d_out = dev_copy(out, ns * sizeof(real)), *d_feats = dev_poison(nt * sizeof(real));
    real *d_dfeats = dev_copy(dfeats, nt * sizeof(real)), *d_dout = dev_poison(ns * sizeof(real));
    real *d_dseq = dev_copy(dseq, ns * sizeof(real)), *d_dtok = dev_copy(dtok, nt * sizeof(real));
    real *d_dg = dev_copy(dg, ng * sizeof(real)), *d_db = dev_copy(db, ng * sizeof(real));
    // CPU
    trunk_concat_inverse(inv, perm, O, N, L);
    trunk_concat_gather(seq, tok, perm, gam, bet, O, N, L, D);
    trunk_concat_merge(feats, out, inv, O, N, L, D);
    trunk_concat_merge_backward(dout, dfeats, perm, O, N, L, D);
    trunk_concat_gather_backward(dtok, dg, db, dseq, tok, perm, inv, gam, O, N, L, D);
    trunk_concat_orders(cat, (int)K, N, O * L);
    // GPU
    SSM_CUDA_ABORT_ON_ERROR(trunk_concat_inverse_cuda(d_inv, d_perm, O, N, L));
    SSM_CUDA_ABORT_ON_ERROR(trunk_concat_gather_cuda(d_seq, d_tok, d_perm, d_gam, d_bet, O, N, L, D));
    SSM_CUDA_ABORT_ON_ERROR(trunk_concat_merge_cuda(d_feats, d_out, d_inv, O, N, L, D));
    SSM_CUDA_ABORT_ON_ERROR(trunk_concat_merge_backward_cuda(d_dout, d_dfeats, d_perm, O, N, L, D));
    SSM_CUDA_ABORT_ON_ERROR(trunk_concat_gather_backward_cuda(d_dtok, d_dg, d_db, d_dseq, d_tok,
                                                              d_perm, d_inv, d_gam, O, N, L, D));
    SSM_CUDA_ABORT_ON_ERROR(trunk_concat_orders_cuda(d_cat, (int)K, N, O * L));
    int32_t *g_inv = host_of(d_inv, np * sizeof *inv), *g_cat = host_of(d_cat, nc * sizeof *cat);
    ck_assert(memcmp(g_inv, inv, np * sizeof *inv) == 0);
    ck_assert(memcmp(g_cat, cat, nc * sizeof *cat) == 0);
    struct {
        const char *what;
        real *d, *h;
        size_t n;
        double tol;
    } cmp[] = {{"gather", d_seq, seq, ns, 1e-6},         {"merge", d_feats, feats, nt, 1e-6},
               {"merge backward", d_dout, dout, ns, 1e-6}, {"dtokens", d_dtok, dtok, nt, 1e-6},
               {"dgamma", d_dg, dg, ng, 1e-5},             {"dbeta", d_db, db, ng, 1e-5}};
    real *first[6];
    for (int i = 0; i < 6; i++) {
        first[i] = host_of(cmp[i].d, cmp[i].n * sizeof(real));
        double r = tu_rel_err(first[i], cmp[i].h, cmp[i].n);
        fprintf(stderr, "  concat %s: relative error %.2g\n", cmp[i].what, r);
        ck_assert_msg(r < cmp[i].tol, "%s: relative error %g", cmp[i].what, r);
    }
    // the same bits from the same state (the accumulators reset to their starting values)
    real *bits[2][2];
    for (int run = 0; run < 2; run++) {
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d_dtok, dtok0, nt * sizeof(real)));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d_dg, dg0, ng * sizeof(real)));
        SSM_CUDA_ABORT_ON_ERROR(trunk_concat_gather_backward_cuda(
            d_dtok, d_dg, d_db, d_dseq, d_tok, d_perm, d_inv, d_gam, O, N, L, D));
        bits[run][0] = host_of(d_dtok, nt * sizeof(real));
        bits[run][1] = host_of(d_dg, ng * sizeof(real));
    }
    ck_assert(memcmp(bits[0][0], bits[1][0], nt * sizeof(real)) == 0);
    ck_assert(memcmp(bits[0][1], bits[1][1], ng * sizeof(real)) == 0);
    ck_assert(memcmp(bits[0][0], first[3], nt * sizeof(real)) == 0);
    for (int i = 0; i < 4; i++)
        free(bits[i / 2][i % 2]);
    for (int i = 0; i < 6; i++)
        free(first[i]);
    free(g_inv), free(g_cat), free(dtok0), free(dg0);
    free(perm), free(inv), free(tok), free(gam), free(bet), free(seq), free(feats), free(dfeats);
    free(dout), free(dseq), free(dtok), free(dg), free(db), free(out), free(cat);
    ssm_cuda_free(d_perm), ssm_cuda_free(d_inv), ssm_cuda_free(d_cat), ssm_cuda_free(d_tok);
    ssm_cuda_free(d_gam), ssm_cuda_free(d_bet), ssm_cuda_free(d_seq), ssm_cuda_free(d_out);
    ssm_cuda_free(d_feats), ssm_cuda_free(d_dfeats), ssm_cuda_free(d_dout), ssm_cuda_free(d_dseq);
    ssm_cuda_free(d_dtok), ssm_cuda_free(d_dg), ssm_cuda_free(d_db);
}
END_TEST

#define MB 3
#define MN 256
#define MP 6

// _i = 0: the segment head, one branch; _i = 1: the class head (mean), two branches.
static void spec_of(ssm_model_spec *s, ssm_device_kind kind, int seg) {
    memset(s, 0, sizeof *s);
    s->trunk.adapter = "point_groups";
    ssm_adapter_options_defaults(&s->trunk.adapter_opt);
    ssm_adapter_options *o = &s->trunk.adapter_opt;
    const char *kv[2][2] = {{"group_size", "16"}, {"num_groups", "32"}};
    for (int i = 0; i < 2; i++) {
        snprintf(o->extra[i].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i][0]);
        snprintf(o->extra[i].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i][1]);
    }
    o->n_extra = 2;
    s->trunk.input = (ssm_input_shape){2, {MN, 3}};
    s->trunk.order_layout = TRUNK_ORDERS_CONCAT;
    mamba_config_defaults(&s->trunk.backbone);
    s->trunk.backbone.d_model = 32;
    s->trunk.backbone.n_layers = 2;
    s->trunk.backbone.d_state = 8;
    s->trunk.backbone.n_branches = seg ? 1 : 2;
    s->head = seg ? "segment" : "class";
    s->head_opt = seg ? (ssm_head_options){.num_classes = MP, .categories = 2, .seg_dim = 32}
                      : (ssm_head_options){.num_classes = MP, .pool = SSM_HEAD_POOL_MEAN};
    s->loss = (loss_spec){.kind = LOSS_CE, .smoothing = 0.1};
    s->B_max = MB;
    s->seed = 5;
    s->device.kind = kind;
}

START_TEST(model_step_matches_cpu) {
    const int seg = _i == 0;
    ssm_model cpu, gpu;
    ssm_model_spec s;
    ssm_error e = {0};
    spec_of(&s, SSM_DEVICE_CPU, seg);
    ck_assert_msg(model_build(&cpu, &s, &e) == SSM_OK, "%s", e.msg);
    spec_of(&s, SSM_DEVICE_CUDA, seg);
    ck_assert_msg(model_build(&gpu, &s, &e) == SSM_OK, "%s", e.msg);
    ck_assert(cpu.trunk.concat && gpu.trunk.concat);
    uint64_t st = 9;
    real *x = malloc((size_t)(MB * MN * 3) * sizeof(real));
    tu_fill_uniform(x, (size_t)(MB * MN * 3), -1, 1, &st);
    int32_t y[MB * MN], cats[MB] = {1, 0, 1};
    for (int i = 0; i < MB * MN; i++) // parts 0..2 for category 0, 3..5 for category 1
        y[i] = cats[i / MN] * 3 + (x[i * 3 + 1] > 0) + (x[i * 3] > 0.5f);
    int32_t ycls[MB] = {4, 1, 2};
    ssm_targets t = {.cls = seg ? y : ycls}, td;
    if (seg) {
        ck_assert(ssm_head_segment_set_categories(cpu.head, cats, MB, &e) == SSM_OK);
        ck_assert(ssm_head_segment_set_categories(gpu.head, cats, MB, &e) == SSM_OK);
    }
    double lc, lg;
    ck_assert_msg(model_loss_and_grad(&cpu, x, &t, MB, &lc, &e) == SSM_OK, "%s", e.msg);
    const real *dx;
    ck_assert_msg(model_batch_in(&gpu, x, &t, MB, &dx, &td, &e) == SSM_OK, "%s", e.msg);
    CUDA_CHECK_ABORT(cudaMemset(gpu.dparams.grad, 0xFF, gpu.dparams.total * sizeof(real)));
    ck_assert_msg(model_loss_and_grad(&gpu, dx, &td, MB, &lg, &e) == SSM_OK, "%s", e.msg);
    double lerr = fabs(lg - lc) / fabs(lc);
    fprintf(stderr, "  concat %s model step: loss cpu %.7f gpu %.7f rel %.2e\n",
            seg ? "segment" : "classify", lc, lg, lerr);
    ck_assert_msg(lerr < 1e-5, "loss: cpu %.8f gpu %.8f", lc, lg);
    ck_assert(ssm_params_cuda_download(&gpu.params, &gpu.dparams, 1, &e) == SSM_OK);
    double worst = 0;
    int scales = 0;
    for (size_t i = 0; i < cpu.params.count; i++) {
        const ssm_param_info *it = &cpu.params.items[i];
        scales += !strncmp(it->name, "order_scale.", 12);
        double ri = tu_rel_err(gpu.params.grad + it->offset, cpu.params.grad + it->offset,
                               it->numel);
        worst = ri > worst ? ri : worst;
        ck_assert_msg(ri < 1e-3, "gradient of %s: relative error %.3e", it->name, ri);
    }
    ck_assert_int_eq(scales, 2);
    fprintf(stderr, "  concat %s model step: worst gradient rel err %.2g\n",
            seg ? "segment" : "classify", worst);
    free(x);
    model_free(&cpu);
    model_free(&gpu);
}
END_TEST
#endif

int main(void) {
#if !HAVE_CUDA
    printf("test_cuda_point_concat: skipped (built without CUDA=1, or a sanitizer/double build)\n");
    return 0;
#else
    if (ssm_cuda_device_count() == 0) {
        printf("test_cuda_point_concat: skipped (no CUDA device)\n");
        return 0;
    }
    Suite *su = suite_create("cuda_point_concat");
    TCase *tc = tcase_create("concat");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kernels_match_cpu);
    tcase_add_loop_test(tc, model_step_matches_cpu, 0, 2);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
#endif
}
