// Check suite: the CUDA twins of FPS and kNN (kernels/cuda/pointops.h) against the CPU
// (kernels/pointops.h), which tests/test_pc_pointops.c holds against brute force: every
// index equal (the same distance expression without FMA: ties resolve alike) on random
// clouds with a row stride, on integer-grid clouds full of ties, on a 100,000-point cloud
// (the scene scale of issue 13), and kNN's distances bit for bit; a second run gives the
// same bits. The point_groups adapter's CUDA path against its CPU path: the orders equal
// element for element (the centres are the same points), tokens within 1e-5 relative, every
// parameter gradient within 1e-3 relative (GEMMs and LayerNorm statistics round
// differently, fp32 on the device, double statistics on the CPU; a max-pool winner within
// rounding of the runner-up may differ, which moves one point's gradient).
// Device outputs are poisoned first so that an unwritten element fails.
// Skips (and passes) without CUDA=1, in the sanitized / double builds, or without a GPU.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "adapters/adapter.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/pointops.h"
#include "kernels/pointops.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#include "tests/util/cuda_bytes.h"
#include "tests/util/cuda_twin.h"

static int no_gpu(void) {
    if (ssm_cuda_device_count() > 0 && ssm_cuda_has_kernel_image())
        return 0;
    fprintf(stderr, "test_cuda_pointops: no usable GPU: skipped\n");
    return 1;
}

static real *cloud(int64_t n, int64_t stride, int grid, uint64_t seed) {
    real *p = malloc((size_t)(n * stride) * sizeof *p);
    tu_fill_uniform(p, (size_t)(n * stride), -1, 1, &seed);
    if (grid)
        for (int64_t i = 0; i < n * stride; i++)
            p[i] = (real)floor(p[i] * 3);
    return p;
}

static void check_fps(int64_t B, int64_t N, int64_t M, int64_t stride, int grid) {
    real *p = cloud(B * N, stride, grid, 1000 + (uint64_t)N);
    int32_t *want = malloc((size_t)(B * M) * sizeof *want), *got = malloc((size_t)(B * M) * sizeof *got);
    real *scratch = malloc((size_t)(B * N) * sizeof *scratch);
    fps_forward(want, scratch, p, B, N, M, stride);
    real *dp = dev_copy(p, (size_t)(B * N * stride) * sizeof *p);
    real *ds = dev_poison((size_t)(B * N) * sizeof *ds);
    for (int run = 0; run < 2; run++) {
        int32_t *di = dev_poison((size_t)(B * M) * sizeof *di);
        SSM_CUDA_ABORT_ON_ERROR(fps_forward_cuda(di, ds, dp, B, N, M, stride));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(got, di, (size_t)(B * M) * sizeof *got));
        for (int64_t i = 0; i < B * M; i++)
            ck_assert_msg(got[i] == want[i], "N %lld, cloud %lld, step %lld: GPU %d, CPU %d",
                          (long long)N, (long long)(i / M), (long long)(i % M), got[i], want[i]);
        ssm_cuda_free(di);
    }
    ssm_cuda_free(dp);
    ssm_cuda_free(ds);
    free(p);
    free(want);
    free(got);
    free(scratch);
}

START_TEST(fps_matches_cpu) {
    if (no_gpu())
        return;
    check_fps(5, 1024, 64, 3, 0);
    check_fps(3, 777, 777, 6, 0); // every point, with normals in the rows
    check_fps(4, 500, 128, 3, 1); // ties everywhere
    check_fps(1, 100000, 1024, 3, 0);
}
END_TEST

static void check_knn(int64_t B, int64_t M, int64_t N, int64_t k, int grid) {
    real *q = cloud(B * M, 3, grid, 7 + (uint64_t)k), *r = cloud(B * N, 6, grid, 8 + (uint64_t)k);
    size_t no = (size_t)(B * M * k);
    int32_t *wi = malloc(no * sizeof *wi), *gi = malloc(no * sizeof *gi);
    real *wd = malloc(no * sizeof *wd), *gd = malloc(no * sizeof *gd);
    knn_forward(wi, wd, q, 3, r, 6, B, M, N, k);
    real *dq = dev_copy(q, (size_t)(B * M * 3) * sizeof *q), *dr = dev_copy(r, (size_t)(B * N * 6) * sizeof *r);
    for (int run = 0; run < 2; run++) {
        int32_t *di = dev_poison(no * sizeof *di);
        real *dd = dev_poison(no * sizeof *dd);
        SSM_CUDA_ABORT_ON_ERROR(knn_forward_cuda(di, dd, dq, 3, dr, 6, B, M, N, k));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(gi, di, no * sizeof *gi));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(gd, dd, no * sizeof *gd));
        for (size_t i = 0; i < no; i++) {
            ck_assert_msg(gi[i] == wi[i], "k %lld, query %zu, rank %zu: GPU %d, CPU %d",
                          (long long)k, i / (size_t)k, i % (size_t)k, gi[i], wi[i]);
            ck_assert(!memcmp(&gd[i], &wd[i], sizeof gd[i]));
        }
        ssm_cuda_free(di);
        ssm_cuda_free(dd);
    }
    ssm_cuda_free(dq);
    ssm_cuda_free(dr);
    free(q);
    free(r);
    free(wi);
    free(gi);
    free(wd);
    free(gd);
}

START_TEST(knn_matches_cpu) {
    if (no_gpu())
        return;
    check_knn(4, 64, 1024, 32, 0);
    check_knn(2, 300, 700, 1, 0);
    check_knn(3, 50, 90, 90, 0);
    check_knn(3, 40, 400, 16, 1);
    check_knn(1, 2048, 100000, 32, 0);
}
END_TEST

START_TEST(point_groups_matches_cpu) {
    if (no_gpu())
        return;
    const int64_t B = 3, N = 256, C = _i ? 6 : 3, D = 48;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 16; // 32 groups of 16
    o.n_orders = 5;
    const char *names[] = {"hilbert", "trans_hilbert_reverse", "z", "snake_yzx", "reverse"};
    for (int i = 0; i < 5; i++)
        snprintf(o.orders[i], SSM_ADAPTER_NAME_MAX, "%s", names[i]);
    ssm_input_shape in = {2, {N, C}};
    ssm_params p, p2;
    ssm_adapter *a, *ga;
    twin_adapters(&a, &p, &ga, &p2, "point_groups", &o, &in, D);
    ssm_error e = {0};
    ssm_rng rng;
    ck_assert_int_eq(ssm_rng_init(&rng, 5, &e), SSM_OK);
    ssm_adapter_init_params(a, &p, &rng);
    uint64_t st = 77 + (uint64_t)_i;
    for (size_t i = 0; i < p.total; i++)
        p.data[i] += (real)(0.1 * (tu_uniform(&st) - 0.5));
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st);
    ssm_params dp;
    twin_mirror(&dp, &p);
    ssm_arena ha, da;
    twin_plan_adapters(a, &ha, ga, &da, B);
    real *x = cloud(B * N, C, 0, 31);
    const int64_t G = a->seq_len;
    size_t nt = (size_t)(B * G * D), no = (size_t)(a->n_orders * B * G);
    real *tok = malloc(nt * sizeof(real));
    int32_t *ord = malloc(no * sizeof(int32_t));
    real *d_x = dev_copy(x, (size_t)(B * N * C) * sizeof(real));
    real *d_tok = dev_poison(nt * sizeof(real));
    int32_t *d_ord = dev_poison(no * sizeof(int32_t));
    ck_assert(ssm_adapter_forward(a, &p, tok, ord, x, B, &e) == SSM_OK);
    ck_assert_msg(ssm_adapter_forward_cuda(ga, &dp, d_tok, d_ord, d_x, B, &e) == SSM_OK, "%s",
                  e.msg);
    real *g_tok = host_of(d_tok, nt * sizeof(real));
    int32_t *g_ord = host_of(d_ord, no * sizeof(int32_t));
    double r = tu_rel_err(g_tok, tok, nt);
    fprintf(stderr, "  point_groups C %lld: tokens rel err %.2g\n", (long long)C, r);
    ck_assert_msg(r < 1e-5, "tokens: relative error %g", r);
    for (size_t i = 0; i < no; i++)
        ck_assert_msg(g_ord[i] == ord[i], "order %s, sample %lld, step %lld: GPU %d, CPU %d",
                      a->order_names[i / (size_t)(B * G)], (long long)(i / G % B),
                      (long long)(i % G), g_ord[i], ord[i]);
    real *dtok = malloc(nt * sizeof(real));
    tu_fill_uniform(dtok, nt, -1, 1, &st);
    real *d_dtok = dev_copy(dtok, nt * sizeof(real));
    ssm_adapter_backward(a, &p, dtok, x, B);
    ck_assert_msg(ssm_adapter_backward_cuda(ga, &dp, d_dtok, d_x, B, &e) == SSM_OK, "%s", e.msg);
    real *g_grad = host_of(dp.grad, p.total * sizeof(real));
    twin_grads_agree("", g_grad, &p, 1e-3, 1);
    free(x), free(tok), free(ord), free(g_tok), free(g_ord), free(dtok), free(g_grad);
    ssm_cuda_free(d_x), ssm_cuda_free(d_tok), ssm_cuda_free(d_ord), ssm_cuda_free(d_dtok);
    ssm_rng_free(&rng);
    ssm_adapter_free(a);
    ssm_adapter_free(ga);
    twin_free(&ha, &da, &dp, &p, &p2);
}
END_TEST

START_TEST(bad_shapes) {
    if (no_gpu())
        return;
    ck_assert_int_eq(fps_forward_cuda(NULL, NULL, NULL, 1, 10, 11, 3), SSM_EINVAL);
    ck_assert_int_eq(knn_forward_cuda(NULL, NULL, NULL, 3, NULL, 3, 1, 1, 200, KNN_CUDA_MAX_K + 1),
                     SSM_EINVAL);
    ssm_error e;
    ck_assert_int_eq(ssm_cuda_take_error(&e), SSM_EINVAL);
    ck_assert(strstr(e.msg, "knn_forward_cuda"));
}
END_TEST
#else
START_TEST(skipped) { fprintf(stderr, "test_cuda_pointops: not a CUDA build: skipped\n"); }
END_TEST
#endif

int main(void) {
    Suite *su = suite_create("cuda_pointops");
    TCase *tc = tcase_create("pointops");
    tcase_set_timeout(tc, 300);
#if HAVE_CUDA
    tcase_add_test(tc, fps_matches_cpu);
    tcase_add_test(tc, knn_matches_cpu);
    tcase_add_loop_test(tc, point_groups_matches_cpu, 0, 2);
    tcase_add_test(tc, bad_shapes);
#else
    tcase_add_test(tc, skipped);
#endif
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
