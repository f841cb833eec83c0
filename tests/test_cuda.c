// Check suite: the CUDA twins against the CPU kernels, on fresh random inputs, forward and
// backward. Every output is poisoned (NaN) before the GPU call so an element the kernel
// forgets to write fails the comparison; accumulated gradients start from random values and
// the increments are compared. Relative error ||gpu - cpu|| / ||cpu||: < 1e-5 in fp32, < 1e-2
// in bf16 (against the CPU kernel run on the bf16-rounded inputs).
//
// Built without CUDA=1, or under the sanitizers (the ASan build links no CUDA objects), or run
// where no GPU is present, the suite prints why it skips and passes.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "kernels/cuda/common.h"
#include "kernels/cuda/scan.h"
#include "kernels/scan.h"
#include "tests/scan_fixture.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#include "tests/util/cuda_compare.h"

// --- selective scan ---------------------------------------------------------------------------
static void scan_case(int64_t B, int64_t D, int64_t L, int64_t N, int64_t G, int64_t chunk,
                      int opts, int bf16, uint64_t seed) {
    const scan_shape s = {.B = B, .D = D, .L = L, .N = N, .G = G, .chunk = chunk,
                          .delta_softplus = !!(opts & OPT_SOFTPLUS)};
    const double tol = bf16 ? TOL16 : TOL32;
    uint64_t st = seed;
    size_t BDL = B * D * L, BGNL = B * G * N * L, BDN = B * D * N, DN = D * N;
    size_t ncs = selective_scan_chunk_states_size(&s);
    scan_problem p = scan_problem_draw(s, opts, 1, &st); // freed below, pointer by pointer
    real *u = p.u, *delta = p.delta, *A = p.A, *Bm = p.Bm, *Cm = p.Cm, *Dk = p.Dskip, *z = p.z;
    real *bias = p.bias, *dout = p.dout;
    if (bf16) { // the CPU sees exactly the values the GPU reads
        round_bf16(u, BDL), round_bf16(delta, BDL), round_bf16(Bm, BGNL), round_bf16(Cm, BGNL);
        round_bf16(dout, BDL);
        if (z)
            round_bf16(z, BDL);
    }
    // CPU reference
    real *out = malloc(sizeof(real) * BDL), *last = malloc(sizeof(real) * BDN);
    real *cs = malloc(sizeof(real) * ncs);
    selective_scan_forward(out, last, cs, u, delta, A, Bm, Cm, Dk, z, bias, &s);
    // GPU forward
    void *du_ = dev(u, BDL, bf16), *ddelta_ = dev(delta, BDL, bf16);
    void *dBm_ = dev(Bm, BGNL, bf16), *dCm_ = dev(Cm, BGNL, bf16);
    void *dz_ = dev(z, BDL, bf16), *ddout_ = dev(dout, BDL, bf16);
    real *dA_ = dev(A, DN, 0), *dD_ = dev(Dk, D, 0), *dbias_ = dev(bias, D, 0);
    void *gout = poisoned(BDL, bf16);
    real *glast = poisoned(BDN, 0), *gcs = poisoned(ncs, 0);
    if (bf16)
        SSM_CUDA_ABORT_ON_ERROR(selective_scan_forward_bf16(gout, glast, gcs, du_, ddelta_, dA_,
                                                            dBm_, dCm_, dD_, dz_, dbias_, &s));
    else
        SSM_CUDA_ABORT_ON_ERROR(selective_scan_forward_cuda(gout, glast, gcs, du_, ddelta_, dA_,
                                                            dBm_, dCm_, dD_, dz_, dbias_, &s));
    real *h_out = host(gout, BDL, bf16), *h_last = host(glast, BDN, 0);
    real *h_cs = host(gcs, ncs, 0);
    fprintf(stderr, "scan %s B=%lld D=%lld L=%lld N=%lld G=%lld chunk=%lld opts=%d:\n",
            bf16 ? "bf16" : "fp32", (long long)B, (long long)D, (long long)L, (long long)N,
            (long long)G, (long long)chunk, opts);
    double e1 = check_rel("out", h_out, out, BDL, tol);
    double e2 = check_rel("last_state", h_last, last, BDN, tol);
    double e3 = check_rel("chunk_states", h_cs, cs, ncs, tol);

    // backward: gradients start from random values (accumulation is part of the contract)
    real *i_du = tu_new_uniform(BDL, -0.5, 0.5, &st),
         *i_ddelta = tu_new_uniform(BDL, -0.5, 0.5, &st);
    real *i_dz = tu_new_uniform(BDL, -0.5, 0.5, &st), *i_dA = tu_new_uniform(DN, -0.5, 0.5, &st);
    real *i_dB = tu_new_uniform(BGNL, -0.5, 0.5, &st), *i_dC = tu_new_uniform(BGNL, -0.5, 0.5, &st);
    real *i_dD = tu_new_uniform(D, -0.5, 0.5, &st), *i_db = tu_new_uniform(D, -0.5, 0.5, &st);
    if (bf16)
        round_bf16(i_du, BDL), round_bf16(i_ddelta, BDL), round_bf16(i_dz, BDL);
    real *c_du = malloc(sizeof(real) * BDL), *c_ddelta = malloc(sizeof(real) * BDL);
    real *c_dz = malloc(sizeof(real) * BDL), *c_dA = malloc(sizeof(real) * DN);
    real *c_dB = malloc(sizeof(real) * BGNL), *c_dC = malloc(sizeof(real) * BGNL);
    real *c_dD = malloc(sizeof(real) * D), *c_db = malloc(sizeof(real) * D);
    memcpy(c_du, i_du, sizeof(real) * BDL), memcpy(c_ddelta, i_ddelta, sizeof(real) * BDL);
    memcpy(c_dz, i_dz, sizeof(real) * BDL), memcpy(c_dA, i_dA, sizeof(real) * DN);
    memcpy(c_dB, i_dB, sizeof(real) * BGNL), memcpy(c_dC, i_dC, sizeof(real) * BGNL);
    memcpy(c_dD, i_dD, sizeof(real) * D), memcpy(c_db, i_db, sizeof(real) * D);
    real *ws = malloc(sizeof(real) * selective_scan_workspace_size(&s, omp_get_max_threads()));
    selective_scan_backward(c_du, c_ddelta, c_dA, c_dB, c_dC, Dk ? c_dD : NULL, z ? c_dz : NULL,
                            bias ? c_db : NULL, dout, cs, u, delta, A, Bm, Cm, Dk, z, bias, ws,
                            &s);
    void *g_du = dev(i_du, BDL, bf16), *g_ddelta = dev(i_ddelta, BDL, bf16);
    void *g_dz = dev(i_dz, BDL, bf16);
    real *g_dA = dev(i_dA, DN, 0), *g_dB = dev(i_dB, BGNL, 0);
    real *g_dC = dev(i_dC, BGNL, 0), *g_dD = dev(i_dD, D, 0), *g_db = dev(i_db, D, 0);
    size_t nws = selective_scan_workspace_size_cuda(&s);
    real *gws = poisoned(nws, 0); // every partial must be written before it is read
    if (bf16)
        SSM_CUDA_ABORT_ON_ERROR(selective_scan_backward_bf16(
            g_du, g_ddelta, g_dA, g_dB, g_dC, Dk ? g_dD : NULL, z ? g_dz : NULL,
            bias ? g_db : NULL, ddout_, gcs, du_, ddelta_, dA_, dBm_, dCm_, dD_, dz_, dbias_, gws,
            &s));
    else
        SSM_CUDA_ABORT_ON_ERROR(selective_scan_backward_cuda(
            g_du, g_ddelta, g_dA, g_dB, g_dC, Dk ? g_dD : NULL, z ? g_dz : NULL,
            bias ? g_db : NULL, ddout_, gcs, du_, ddelta_, dA_, dBm_, dCm_, dD_, dz_, dbias_, gws,
            &s));
    real *h_du = host(g_du, BDL, bf16), *h_ddelta = host(g_ddelta, BDL, bf16);
    real *h_dA = host(g_dA, DN, 0), *h_dB = host(g_dB, BGNL, 0);
    real *h_dC = host(g_dC, BGNL, 0);
    double e4 = check_inc("du", h_du, c_du, i_du, BDL, tol);
    double e5 = check_inc("ddelta", h_ddelta, c_ddelta, i_ddelta, BDL, tol);
    double e6 = check_inc("dA", h_dA, c_dA, i_dA, DN, tol);
    double e7 = check_inc("dBm", h_dB, c_dB, i_dB, BGNL, tol);
    double e8 = check_inc("dCm", h_dC, c_dC, i_dC, BGNL, tol);
    double e9 = 0;
    if (z) {
        real *h_dz = host(g_dz, BDL, bf16);
        e9 = fmax(e9, check_inc("dz", h_dz, c_dz, i_dz, BDL, tol));
        free(h_dz);
    }
    if (Dk) {
        real *h_dD = host(g_dD, D, 0);
        e9 = fmax(e9, check_inc("dDskip", h_dD, c_dD, i_dD, D, tol));
        free(h_dD);
    }
    if (bias) {
        real *h_db = host(g_db, D, 0);
        e9 = fmax(e9, check_inc("ddelta_bias", h_db, c_db, i_db, D, tol));
        free(h_db);
    }
    fprintf(stderr,
            "  rel err: out %.2g last %.2g states %.2g | du %.2g ddelta %.2g dA %.2g dB %.2g "
            "dC %.2g dz/dD/dbias %.2g\n",
            e1, e2, e3, e4, e5, e6, e7, e8, e9);
    // deterministic: a second backward from the same starting values gives the same bits
    if (!bf16) {
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(g_dB, i_dB, sizeof(real) * BGNL));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(g_dA, i_dA, sizeof(real) * DN));
        SSM_CUDA_ABORT_ON_ERROR(selective_scan_backward_cuda(
            g_du, g_ddelta, g_dA, g_dB, NULL, NULL, NULL, NULL, ddout_, gcs, du_, ddelta_, dA_,
            dBm_, dCm_, dD_, dz_, dbias_, gws, &s));
        real *h_dB2 = host(g_dB, BGNL, 0), *h_dA2 = host(g_dA, DN, 0);
        ck_assert_msg(memcmp(h_dB2, h_dB, sizeof(real) * BGNL) == 0, "dBm not bit-identical");
        ck_assert_msg(memcmp(h_dA2, h_dA, sizeof(real) * DN) == 0, "dA not bit-identical");
        free(h_dB2), free(h_dA2);
    }
    void *devs[] = {du_, ddelta_, dBm_, dCm_, dz_, ddout_, dA_, dD_, dbias_, gout, glast, gcs,
                    g_du, g_ddelta, g_dz, g_dA, g_dB, g_dC, g_dD, g_db, gws};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++)
        ssm_cuda_free(devs[i]);
    real *hs[] = {u, delta, A, Bm, Cm, Dk, z, bias, dout, out, last, cs, h_out, h_last, h_cs,
                  i_du, i_ddelta, i_dz, i_dA, i_dB, i_dC, i_dD, i_db, c_du, c_ddelta, c_dz,
                  c_dA, c_dB, c_dC, c_dD, c_db, ws, h_du, h_ddelta, h_dA, h_dB, h_dC};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}

// L not a multiple of the chunk or the tile; N odd; G = 1 and 2; every option on and off;
// each of the lane counts the host code picks (forward P = 2..32, backward P = 1, 2, 4).
START_TEST(scan_fp32_small) { scan_case(2, 8, 100, 5, 1, 16, OPT_ALL, 0, 11); }
END_TEST
START_TEST(scan_fp32_groups) { scan_case(2, 12, 300, 16, 2, 64, OPT_SOFTPLUS | OPT_Z, 0, 12); }
END_TEST
START_TEST(scan_fp32_odd_chunk) { scan_case(1, 70, 77, 4, 2, 37, OPT_D | OPT_BIAS, 0, 13); }
END_TEST
START_TEST(scan_fp32_wide) { scan_case(2, 34816, 40, 3, 2, 24, OPT_ALL, 0, 14); }
END_TEST
START_TEST(scan_fp32_long) { scan_case(1, 4, 3000, 16, 1, 64, OPT_ALL, 0, 15); }
END_TEST
START_TEST(scan_fp32_mid) { scan_case(4, 96, 197, 16, 1, 64, OPT_ALL, 0, 16); }
END_TEST
START_TEST(scan_bf16_groups) { scan_case(2, 12, 300, 16, 2, 64, OPT_ALL, 1, 17); }
END_TEST
START_TEST(scan_bf16_odd) { scan_case(1, 70, 77, 4, 2, 37, OPT_D | OPT_BIAS | OPT_Z, 1, 18); }
END_TEST
START_TEST(scan_bf16_mid) { scan_case(4, 96, 197, 16, 1, 64, OPT_ALL, 1, 19); }
END_TEST

// Enough channels (B*D*N/4 >= 256 threads per multiprocessor) for the state-split kernels
// (scan_split.cuh): N = 16 and 8, a partial last tile, L unaligned for 16-byte loads, G = 2.
START_TEST(scan_fp32_split) { scan_case(4, 2304, 200, 16, 2, 64, OPT_ALL, 0, 21); }
END_TEST
START_TEST(scan_bf16_split) { scan_case(4, 2304, 197, 16, 1, 32, OPT_ALL, 1, 22); }
END_TEST
START_TEST(scan_bf16_split_n8) { scan_case(8, 2304, 72, 8, 1, 16, OPT_SOFTPLUS | OPT_Z, 1, 23); }
END_TEST
// v5 (scan_pipe.cuh, cp.async-staged forward; B, C staged in the backward): bf16, N = 16,
// L a multiple of 16 with a partial last chunk
START_TEST(scan_bf16_pipe) { scan_case(4, 2304, 208, 16, 1, 64, OPT_ALL, 1, 24); }
END_TEST

START_TEST(scan_refuses_bad_shapes) {
    ssm_cuda_take_error(NULL);
    scan_shape s = {1, 6, 10, 4, 4, 16, 1, NULL, 0}; // D not a multiple of G
    void *p = (void *)16;
    ck_assert_int_eq(selective_scan_forward_cuda(p, NULL, NULL, p, p, p, p, p, NULL, NULL, NULL,
                                                 &s),
                     SSM_EINVAL);
    ssm_error e;
    ck_assert_int_eq(ssm_cuda_take_error(&e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "multiple of G"));
    scan_shape s2 = {1, 8, 10, 4, 1, 128, 1, NULL, 0}; // chunk too long for the backward
    ck_assert_int_eq(selective_scan_backward_cuda(p, p, NULL, NULL, NULL, NULL, NULL, NULL, p, p,
                                                  p, p, p, p, p, NULL, NULL, NULL, p, &s2),
                     SSM_EINVAL);
    ck_assert_int_eq(ssm_cuda_take_error(&e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "chunk"));
    ck_assert_int_eq(ssm_cuda_take_error(NULL), SSM_OK); // taken: cleared
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda");
    TCase *tc = tcase_create("scan");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, scan_refuses_bad_shapes);
    tcase_add_test(tc, scan_fp32_small);
    tcase_add_test(tc, scan_fp32_groups);
    tcase_add_test(tc, scan_fp32_odd_chunk);
    tcase_add_test(tc, scan_fp32_wide);
    tcase_add_test(tc, scan_fp32_long);
    tcase_add_test(tc, scan_fp32_mid);
    tcase_add_test(tc, scan_bf16_groups);
    tcase_add_test(tc, scan_bf16_odd);
    tcase_add_test(tc, scan_bf16_mid);
    tcase_add_test(tc, scan_fp32_split);
    tcase_add_test(tc, scan_bf16_split);
    tcase_add_test(tc, scan_bf16_split_n8);
    tcase_add_test(tc, scan_bf16_pipe);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
