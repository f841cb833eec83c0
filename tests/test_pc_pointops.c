// Check suite: kernels/pointops.h against brute force.
//  - FPS: every chosen index equals a naive O(N M) argmax written out here (same distance
//    expression, ties to the lowest index), on random clouds, on clouds with duplicate
//    points (ties everywhere: no index repeats, the lowest untaken comes next), on a
//    cloud of one repeated point (0, 1, 2, ...), with a row stride (normals), and on a
//    cloud large enough for the parallel path (20,000 points), bit-equal to the serial one
//  - kNN: indices and distances equal a full sort of every point by (distance, index),
//    k = 1 and k = N included, queries of another stride than the references
//  - inverse-distance interpolation: forward against the naive sum, weights sum to 1,
//    backward against the transposed sum
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pointops.h"
#include "tests/util/testutil.h"

static void naive_fps(int32_t *idx, const real *p, int64_t N, int64_t M, int64_t stride) {
    char *taken = calloc((size_t)N, 1);
    idx[0] = 0;
    taken[0] = 1;
    for (int64_t m = 1; m < M; m++) {
        real best = -1;
        int64_t bi = -1;
        for (int64_t i = 0; i < N; i++) {
            if (taken[i])
                continue;
            real d = INFINITY;
            for (int64_t j = 0; j < m; j++) {
                real t = point_dist2(p + i * stride, p + idx[j] * stride);
                d = t < d ? t : d;
            }
            if (d > best) {
                best = d;
                bi = i;
            }
        }
        idx[m] = (int32_t)bi;
        taken[bi] = 1;
    }
    free(taken);
}

static void check_fps(const real *p, int64_t B, int64_t N, int64_t M, int64_t stride) {
    int32_t *got = malloc((size_t)(B * M) * sizeof *got), *want = malloc((size_t)M * sizeof *want);
    real *scratch = malloc((size_t)(B * N) * sizeof *scratch);
    fps_forward(got, scratch, p, B, N, M, stride);
    for (int64_t b = 0; b < B; b++) {
        naive_fps(want, p + b * N * stride, N, M, stride);
        for (int64_t m = 0; m < M; m++)
            ck_assert_msg(got[b * M + m] == want[m], "cloud %lld, step %lld: %d, naive %d",
                          (long long)b, (long long)m, got[b * M + m], want[m]);
        char *seen = calloc((size_t)N, 1);
        for (int64_t m = 0; m < M; m++) {
            ck_assert(!seen[got[b * M + m]]);
            seen[got[b * M + m]] = 1;
        }
        free(seen);
    }
    free(got);
    free(want);
    free(scratch);
}

START_TEST(fps_random) {
    uint64_t st = 7;
    int64_t B = 3, N = 200, stride = 6;
    real *p = malloc((size_t)(B * N * stride) * sizeof *p);
    tu_fill_uniform(p, (size_t)(B * N * stride), -1, 1, &st);
    check_fps(p, B, N, 1, stride);
    check_fps(p, B, N, 32, stride);
    check_fps(p, B, N, N, stride); // every point: a permutation
    free(p);
}
END_TEST

START_TEST(fps_ties) {
    // 40 points on 5 distinct positions (8 copies each): distances tie everywhere
    int64_t N = 40;
    real p[40 * 3];
    for (int64_t i = 0; i < N; i++) {
        p[i * 3] = (real)(i % 5);
        p[i * 3 + 1] = (real)((i % 5) * (i % 5));
        p[i * 3 + 2] = 0;
    }
    check_fps(p, 1, N, N, 3);
    int32_t idx[40];
    real scratch[40];
    fps_forward(idx, scratch, p, 1, N, 7, 3);
    // the five positions first (farthest each time), then the lowest untaken copy: 5
    ck_assert_int_eq(idx[0], 0);
    ck_assert_int_eq(idx[5], 5);
    ck_assert_int_eq(idx[6], 6);
    real same[10 * 3] = {0};
    fps_forward(idx, scratch, same, 1, 10, 10, 3); // one repeated point
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(idx[i], i);
}
END_TEST

START_TEST(fps_parallel_path) {
    uint64_t st = 11;
    int64_t N = 20000, M = 64;
    real *p = malloc((size_t)(N * 3) * sizeof *p);
    tu_fill_uniform(p, (size_t)(N * 3), -1, 1, &st);
    int32_t *a = malloc((size_t)M * sizeof *a), *b = malloc((size_t)M * sizeof *b);
    real *scratch = malloc((size_t)N * sizeof *scratch);
    omp_set_num_threads(4);          // B = 1 < threads and N >= 8192: the parallel path
    fps_forward(a, scratch, p, 1, N, M, 3);
    omp_set_num_threads(1);          // the serial path
    fps_forward(b, scratch, p, 1, N, M, 3);
    omp_set_num_threads(omp_get_num_procs());
    for (int64_t m = 0; m < M; m++)
        ck_assert_int_eq(a[m], b[m]);
    int32_t want[16];
    naive_fps(want, p, N, 16, 3);
    for (int m = 0; m < 16; m++)
        ck_assert_int_eq(a[m], want[m]);
    free(p);
    free(a);
    free(b);
    free(scratch);
}
END_TEST

typedef struct {
    real d;
    int32_t i;
} cand;

static int cmp_cand(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return a->i - b->i;
}

static void check_knn(int64_t B, int64_t M, int64_t N, int64_t k, int ties) {
    uint64_t st = 100 + (uint64_t)k;
    int64_t qs = 3, rs = 6;
    real *q = malloc((size_t)(B * M * qs) * sizeof *q), *r = malloc((size_t)(B * N * rs) * sizeof *r);
    tu_fill_uniform(q, (size_t)(B * M * qs), -1, 1, &st);
    tu_fill_uniform(r, (size_t)(B * N * rs), -1, 1, &st);
    if (ties) // a grid of integers: many equal distances
        for (int64_t i = 0; i < B * N * rs; i++)
            r[i] = (real)floor(r[i] * 2);
    if (ties)
        for (int64_t i = 0; i < B * M * qs; i++)
            q[i] = (real)floor(q[i] * 2);
    int32_t *idx = malloc((size_t)(B * M * k) * sizeof *idx);
    real *d = malloc((size_t)(B * M * k) * sizeof *d);
    knn_forward(idx, d, q, qs, r, rs, B, M, N, k);
    int32_t *idx2 = malloc((size_t)(B * M * k) * sizeof *idx2);
    knn_forward(idx2, NULL, q, qs, r, rs, B, M, N, k); // without distances: same indices
    cand *c = malloc((size_t)N * sizeof *c);
    for (int64_t b = 0; b < B; b++)
        for (int64_t m = 0; m < M; m++) {
            for (int64_t i = 0; i < N; i++) {
                c[i].d = point_dist2(r + (b * N + i) * rs, q + (b * M + m) * qs);
                c[i].i = (int32_t)i;
            }
            qsort(c, (size_t)N, sizeof *c, cmp_cand);
            for (int64_t j = 0; j < k; j++) {
                int64_t o = (b * M + m) * k + j;
                ck_assert_msg(idx[o] == c[j].i, "k %lld, cloud %lld, query %lld, rank %lld: %d, "
                              "sorted %d", (long long)k, (long long)b, (long long)m, (long long)j,
                              idx[o], c[j].i);
                ck_assert(d[o] == c[j].d);
                ck_assert_int_eq(idx2[o], idx[o]);
            }
        }
    free(q);
    free(r);
    free(idx);
    free(idx2);
    free(d);
    free(c);
}

START_TEST(knn_brute_force) {
    check_knn(2, 17, 150, 1, 0);
    check_knn(2, 17, 150, 16, 0);
    check_knn(2, 5, 40, 40, 0);
    check_knn(3, 9, 64, 12, 1);
}
END_TEST

START_TEST(interp_naive) {
    uint64_t st = 5;
    int64_t B = 2, N = 30, M = 8, C = 5, k = 3;
    real q[2 * 30 * 3], src[2 * 8 * 3];
    tu_fill_uniform(q, sizeof q / sizeof *q, -1, 1, &st);
    tu_fill_uniform(src, sizeof src / sizeof *src, -1, 1, &st);
    memcpy(q, src, 3 * sizeof(real)); // a target on a source point: weight ~1 on it
    int32_t idx[2 * 30 * 3];
    real d[2 * 30 * 3], w[2 * 30 * 3], feat[2 * 8 * 5], out[2 * 30 * 5], dout[2 * 30 * 5];
    knn_forward(idx, d, q, 3, src, 3, B, N, M, k);
    interp_weights(w, d, B * N, k);
    for (int64_t i = 0; i < B * N; i++) {
        double s = 0;
        for (int64_t j = 0; j < k; j++) {
            s += w[i * k + j];
            ck_assert(w[i * k + j] > 0);
            if (j)
                ck_assert(w[i * k + j] <= w[i * k + j - 1] * (1 + 1e-6)); // nearest weighs most
        }
        ck_assert(fabs(s - 1) < 1e-6);
    }
    ck_assert(w[0] > 0.999);
    tu_fill_uniform(feat, sizeof feat / sizeof *feat, -1, 1, &st);
    interp_forward(out, feat, idx, w, B, N, M, C, k);
    for (int64_t i = 0; i < B * N; i++)
        for (int64_t c = 0; c < C; c++) {
            double s = 0;
            for (int64_t j = 0; j < k; j++)
                s += w[i * k + j] * feat[(i / N * M + idx[i * k + j]) * C + c];
            ck_assert(fabs(out[i * C + c] - s) < 1e-5);
        }
    tu_fill_uniform(dout, sizeof dout / sizeof *dout, -1, 1, &st);
    real dfeat[2 * 8 * 5], want[2 * 8 * 5];
    tu_fill_uniform(dfeat, sizeof dfeat / sizeof *dfeat, -1, 1, &st);
    memcpy(want, dfeat, sizeof want);
    interp_backward(dfeat, dout, idx, w, B, N, M, C, k); // accumulates onto random values
    for (int64_t i = 0; i < B * N; i++)
        for (int64_t j = 0; j < k; j++)
            for (int64_t c = 0; c < C; c++)
                want[(i / N * M + idx[i * k + j]) * C + c] += w[i * k + j] * dout[i * C + c];
    ck_assert(tu_max_abs_diff(dfeat, want, sizeof want / sizeof *want) < 1e-5);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_pointops");
    TCase *tc = tcase_create("pointops");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fps_random);
    tcase_add_test(tc, fps_ties);
    tcase_add_test(tc, fps_parallel_path);
    tcase_add_test(tc, knn_brute_force);
    tcase_add_test(tc, interp_naive);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
