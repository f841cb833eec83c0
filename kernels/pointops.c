// defines: fps_forward, knn_forward, interp_weights, interp_forward, interp_backward
// (see pointops.h)
#include "kernels/pointops.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if REAL_IS_DOUBLE
#define REAL_BIG DBL_MAX
#else
#define REAL_BIG FLT_MAX
#endif

// Below this many points a cloud is sampled by one thread: a parallel step per chosen
// point (two barriers) costs more than it saves.
#define FPS_PARALLEL_MIN_N 8192
#define FPS_MAX_THREADS 256

// One cloud, one thread. d [N]: min distance to the chosen set, -1 once taken.
static void fps_one(int32_t *idx, real *d, const real *p, int64_t N, int64_t M, int64_t stride) {
    for (int64_t i = 0; i < N; i++)
        d[i] = REAL_BIG;
    int64_t cur = 0;
    idx[0] = 0;
    d[0] = -1;
    for (int64_t m = 1; m < M; m++) {
        const real *c = p + cur * stride;
        real best = -1;
        int64_t bi = -1;
        for (int64_t i = 0; i < N; i++) {
            if (d[i] < 0)
                continue;
            real t = point_dist2(p + i * stride, c);
            if (t < d[i])
                d[i] = t;
            if (d[i] > best) { // strict: the lowest index wins a tie
                best = d[i];
                bi = i;
            }
        }
        if (bi < 0) // only non-finite distances left (the caller checks data): lowest untaken
            for (bi = 0; d[bi] < 0; bi++) {
            }
        idx[m] = (int32_t)bi;
        d[bi] = -1;
        cur = bi;
    }
}

// One large cloud over every thread: each takes a contiguous slice of the points, finds
// its own best, and one thread combines the bests in slice order (so ties still go to
// the lowest index and the result equals fps_one's).
static void fps_one_parallel(int32_t *idx, real *d, const real *p, int64_t N, int64_t M,
                             int64_t stride) {
    real bestv[FPS_MAX_THREADS];
    int64_t besti[FPS_MAX_THREADS];
    int64_t cur = 0;
    idx[0] = 0;
#pragma omp parallel num_threads(omp_get_max_threads() < FPS_MAX_THREADS ? omp_get_max_threads() : FPS_MAX_THREADS)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int64_t lo = N * t / T, hi = N * (t + 1) / T;
        for (int64_t i = lo; i < hi; i++)
            d[i] = i == 0 ? -1 : REAL_BIG;
#pragma omp barrier
        for (int64_t m = 1; m < M; m++) {
            const real *c = p + cur * stride;
            real best = -1;
            int64_t bi = -1;
            for (int64_t i = lo; i < hi; i++) {
                if (d[i] < 0)
                    continue;
                real v = point_dist2(p + i * stride, c);
                if (v < d[i])
                    d[i] = v;
                if (d[i] > best) {
                    best = d[i];
                    bi = i;
                }
            }
            bestv[t] = best;
            besti[t] = bi;
#pragma omp barrier
#pragma omp single
            {
                real bv = -1;
                int64_t b = -1;
                for (int s = 0; s < T; s++)
                    if (besti[s] >= 0 && bestv[s] > bv) {
                        bv = bestv[s];
                        b = besti[s];
                    }
                if (b < 0)
                    for (b = 0; d[b] < 0; b++) {
                    }
                idx[m] = (int32_t)b;
                d[b] = -1;
                cur = b;
            } // implicit barrier: every thread sees cur and d[b]
        }
    }
}

void fps_forward(int32_t *idx, real *scratch, const real *xyz, int64_t B, int64_t N, int64_t M,
                 int64_t stride) {
    if (M <= 0)
        return;
    if (B < omp_get_max_threads() && N >= FPS_PARALLEL_MIN_N && !omp_in_parallel()) {
        for (int64_t b = 0; b < B; b++)
            fps_one_parallel(idx + b * M, scratch + b * N, xyz + b * N * stride, N, M, stride);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < B; b++)
        fps_one(idx + b * M, scratch + b * N, xyz + b * N * stride, N, M, stride);
}

// The k nearest of one query: an insertion-sorted list in (bi, bd). Points arrive in
// index order and a point is placed after every equal distance, so ties keep index order.
static void knn_one(int32_t *bi, real *bd, const real *q, const real *ref, int64_t rstride,
                    int64_t N, int64_t k) {
    int64_t n = 0;
    for (int64_t i = 0; i < N; i++) {
        real t = point_dist2(ref + i * rstride, q);
        if (n == k && !(t < bd[k - 1]))
            continue;
        int64_t p = n < k ? n++ : k - 1;
        while (p > 0 && bd[p - 1] > t) {
            bd[p] = bd[p - 1];
            bi[p] = bi[p - 1];
            p--;
        }
        bd[p] = t;
        bi[p] = (int32_t)i;
    }
}

void knn_forward(int32_t *idx, real *dist2, const real *query, int64_t qstride, const real *ref,
                 int64_t rstride, int64_t B, int64_t M, int64_t N, int64_t k) {
    if (k <= 0 || B * M <= 0)
        return;
#pragma omp parallel
    {
        real *tmp = dist2 ? NULL : malloc((size_t)k * sizeof *tmp);
#pragma omp for schedule(static)
        for (int64_t bm = 0; bm < B * M; bm++) {
            int64_t b = bm / M;
            real *bd = dist2 ? dist2 + bm * k : tmp;
            if (!bd) // out of memory for k distances: nothing sensible to return
                continue;
            knn_one(idx + bm * k, bd, query + bm * qstride, ref + b * N * rstride, rstride, N, k);
        }
        free(tmp);
    }
}

void interp_weights(real *w, const real *dist2, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < k; j++) {
            double r = 1.0 / (sqrt((double)dist2[i * k + j]) + 1e-8);
            w[i * k + j] = (real)r;
            s += r;
        }
        for (int64_t j = 0; j < k; j++)
            w[i * k + j] = (real)((double)w[i * k + j] / s);
    }
}

void interp_forward(real *out, const real *feat, const int32_t *idx, const real *w, int64_t B,
                    int64_t N, int64_t M, int64_t C, int64_t k) {
#pragma omp parallel for schedule(static)
    for (int64_t bn = 0; bn < B * N; bn++) {
        const real *f = feat + bn / N * M * C;
        real *o = out + bn * C;
        memset(o, 0, (size_t)C * sizeof *o);
        for (int64_t j = 0; j < k; j++) {
            real wj = w[bn * k + j];
            const real *src = f + (int64_t)idx[bn * k + j] * C;
            for (int64_t c = 0; c < C; c++)
                o[c] += wj * src[c];
        }
    }
}

void interp_backward(real *dfeat, const real *dout, const int32_t *idx, const real *w, int64_t B,
                     int64_t N, int64_t M, int64_t C, int64_t k) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        real *df = dfeat + b * M * C;
        for (int64_t i = b * N; i < (b + 1) * N; i++)
            for (int64_t j = 0; j < k; j++) {
                real wj = w[i * k + j];
                real *dst = df + (int64_t)idx[i * k + j] * C;
                const real *g = dout + i * C;
                for (int64_t c = 0; c < C; c++)
                    dst[c] += wj * g[c];
            }
    }
}
