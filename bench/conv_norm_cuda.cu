// defines: main (lab: conv1d and norm-weight-gradient CUDA kernels, v1 against the library)
// The lab for two memory-bound twins at the Vim-Tiny shapes (B 128, L 197, d_model 192,
// E 384): conv1d_causal_{forward,backward}_cuda on x [128, 384, 197], K 4, SiLU, bias; and the
// norms' weight-gradient column sum over [25216, 192]. v1 = the kernels before this lab (one
// thread per output with 64-bit index math for the forward; one block per channel looping over
// the whole batch for the backward; one block per 32 columns for the column sum), copied here
// as llm.c's dev/cuda keeps its versions. conv1d: v2 = blocks over (channel, chunks of the
// flattened batch x time), one load in flight per thread (bench/conv_lab_v2.cuh); v3 = the
// library now (kernels/cuda/conv1d.cu: all of a thread's loads in flight together). Column
// sum: v2 = the library now (device_util.cuh cu_colsum: row tiles, then a pass over the
// tiles). Each new result is checked against v1 (relative error, NaN fails) and against
// itself on a second run (bit-identical), on random inputs (never zeros).
// bf16 rows (conv1d_causal_*_bf16, the bf16 mixer's calls: x, out, dx bf16; the backward's
// dout fp32): the library only, beside the fp32 rows, checked against the fp32 conv on the
// same bf16-rounded x (forward: the output rounded; backward: dw, dbias bit-identical).
// Timing: median of reps, CUDA events around the call only, L2 flushed (a 256 MiB memset)
// before each rep. GB/s counts each input read once and each output written once (a +=
// output read and written), next to a device-to-device copy measured in the same run.
// Built only with CUDA=1:  build-cuda/bench/conv_norm_cuda [reps]
#include <algorithm>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "kernels/cuda/cast.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/norm.h"

#include "bench/conv_lab_v2.cuh"
#include "bench/cuda_bench.cuh"

#define CK(x) SSM_CUDA_ABORT_ON_ERROR(x)

// --- v1: the kernels as they were (commit a1dbbdb) -----------------------------------------
#define V1_TILE 256
#define V1_TAPS 8

__global__ void k_conv_fwd_v1(float *out, const float *x, const float *w, const float *bias,
                              int64_t C, int64_t L, int K, int silu, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / L, t = i - row * L, c = row % C;
        const float *xr = x + row * L, *wc = w + c * K;
        float acc = bias ? bias[c] : 0.f;
        int64_t k0 = (K - 1) - t;
        for (int64_t k = k0 > 0 ? k0 : 0; k < K; k++)
            acc += wc[k] * xr[t - (K - 1) + k];
        out[i] = silu ? cu_silu(acc) : acc;
    }
}

__global__ void k_conv_bwd_v1(float *dx, float *dw, float *dbias, const float *dout,
                              const float *x, const float *w, const float *bias, int64_t B,
                              int64_t C, int64_t L, int K, int silu) {
    extern __shared__ float sm[];
    float *ws = sm;
    float *xs = ws + K;
    float *dps = xs + V1_TILE + 2 * (K - 1);
    __shared__ float red[32];
    int64_t c = blockIdx.x;
    int tid = threadIdx.x;
    for (int k = tid; k < K; k += V1_TILE)
        ws[k] = w[c * K + k];
    float b = bias ? bias[c] : 0.f;
    float db = 0.f;
    for (int k0 = 0; k0 < K; k0 += V1_TAPS) {
        int first = k0 == 0;
        if (!first && !dw)
            break;
        float acc[V1_TAPS];
#pragma unroll
        for (int j = 0; j < V1_TAPS; j++)
            acc[j] = 0.f;
        for (int64_t bb = 0; bb < B; bb++) {
            const float *xr = x + (bb * C + c) * L, *dr = dout + (bb * C + c) * L;
            float *dxr = dx ? dx + (bb * C + c) * L : NULL;
            for (int64_t t0 = 0; t0 < L; t0 += V1_TILE) {
                __syncthreads();
                for (int j = tid; j < V1_TILE + 2 * (K - 1); j += V1_TILE) {
                    int64_t p = t0 - (K - 1) + j;
                    xs[j] = p >= 0 && p < L ? xr[p] : 0.f;
                }
                __syncthreads();
                for (int j = tid; j < V1_TILE + K - 1; j += V1_TILE) {
                    int64_t t = t0 + j;
                    float d = 0.f;
                    if (t < L) {
                        d = dr[t];
                        if (silu) {
                            float pre = b;
                            for (int k = 0; k < K; k++)
                                pre += ws[k] * xs[j + k];
                            d *= cu_silu_grad(pre);
                        }
                    }
                    dps[j] = d;
                }
                __syncthreads();
                int64_t t = t0 + tid;
                if (t < L) {
                    float d = dps[tid];
                    if (first) {
                        db += d;
                        if (dxr) {
                            float s = 0.f;
                            for (int k = 0; k < K; k++)
                                s += ws[k] * dps[tid + (K - 1) - k];
                            dxr[t] += s;
                        }
                    }
                    if (dw) {
#pragma unroll
                        for (int j = 0; j < V1_TAPS; j++)
                            if (k0 + j < K)
                                acc[j] += d * xs[tid + k0 + j];
                    }
                }
            }
        }
        if (dw) {
#pragma unroll
            for (int j = 0; j < V1_TAPS; j++) {
                float s = cu_block_sum(acc[j], red);
                if (tid == 0 && k0 + j < K)
                    dw[c * K + k0 + j] += s;
            }
        }
    }
    if (dbias) {
        float s = cu_block_sum(db, red);
        if (tid == 0)
            dbias[c] += s;
    }
}

static void conv_fwd_v1(float *out, const float *x, const float *w, const float *b, int64_t B,
                        int64_t C, int64_t L, int K) {
    int64_t n = B * C * L;
    k_conv_fwd_v1<<<cu_blocks(n, CU_THREADS), CU_THREADS>>>(out, x, w, b, C, L, K, 1, n);
    CUDA_CHECK_ABORT(cudaGetLastError());
}
static void conv_bwd_v1(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, const float *b, int64_t B, int64_t C, int64_t L, int K) {
    size_t shmem = sizeof(float) * (K + V1_TILE + 2 * (K - 1) + V1_TILE + K - 1);
    k_conv_bwd_v1<<<(unsigned)C, V1_TILE, shmem>>>(dx, dw, db, dout, x, w, b, B, C, L, K, 1);
    CUDA_CHECK_ABORT(cudaGetLastError());
}

// RMSNorm's column terms (kernels/cuda/norm.cu NormCols<false>): dweight += g * x * rstd
struct RmsCols {
    const float *g, *x, *rstd;
    int64_t C;
    __device__ void operator()(int64_t n, int64_t c, float *a0, float *) const {
        *a0 += g[n * C + c] * (x[n * C + c] * rstd[n]);
    }
};
static void colsum_v1(float *dw, const RmsCols &f, int64_t N, int64_t C) {
    cu_colsum_kernel<<<(unsigned)((C + 31) / 32), dim3(32, 32)>>>(dw, (float *)NULL, N, C, f);
    CUDA_CHECK_ABORT(cudaGetLastError());
}

// --- harness ------------------------------------------------------------------------------
static uint32_t g_seed = 4321;
static float *rand_dev(int64_t n, float lo, float hi) {
    float *f;
    CK(ssm_cuda_alloc((void **)&f, n * 4, "bench"));
    fill_kernel<<<1024, 256>>>(f, n, lo, hi, g_seed++);
    CUDA_CHECK_ABORT(cudaGetLastError());
    return f;
}
static float *copy_dev(const float *src, int64_t n) {
    float *f;
    CK(ssm_cuda_alloc((void **)&f, n * 4, "bench"));
    CUDA_CHECK_ABORT(cudaMemcpy(f, src, n * 4, cudaMemcpyDeviceToDevice));
    return f;
}
static std::vector<float> to_host(const float *d, int64_t n) {
    std::vector<float> h(n);
    CK(ssm_cuda_download(h.data(), d, n * 4));
    return h;
}

static void *g_flush;
static const size_t FLUSH_BYTES = (size_t)256 << 20;

// every timing here starts with L2 evicted (bench/cuda_bench.cuh)
template <typename F> static double cold_ms(F f, int warm, int reps) {
    return median_ms(f, warm, reps, g_flush, FLUSH_BYTES);
}

// ||a - b|| / ||b||; NaN anywhere: infinity
static double rel_err(const std::vector<float> &a, const std::vector<float> &b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); i++) {
        if (isnan(a[i]) || isnan(b[i]))
            return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d, den += (double)b[i] * b[i];
    }
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}

static int g_fail = 0;
static void check(const char *what, double err, double tol, bool same) {
    printf("  check %-30s rel err vs v1 %.2e (tol %.0e), repeat bit-identical: %s\n", what, err,
           tol, same ? "yes" : "NO");
    if (!(err < tol) || !same)
        g_fail = 1;
}

struct Row {
    const char *name;
    double v1_ms, v2_ms, v3_ms, bytes; // NaN: no such version
};

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 30, warm = 3;
    if (ssm_cuda_device_count() == 0) {
        printf("conv_norm_cuda: no CUDA device\n");
        return 0;
    }
    cudaDeviceProp prop;
    CUDA_CHECK_ABORT(cudaGetDeviceProperties(&prop, 0));
    CK(ssm_cuda_alloc(&g_flush, FLUSH_BYTES, "L2 flush"));
    std::vector<Row> rows;

    // device-to-device copy: the bandwidth ceiling of this run
    const int64_t ncopy = (int64_t)64 << 20; // 256 MiB
    float *csrc = rand_dev(ncopy, -1, 1), *cdst = rand_dev(ncopy, -1, 1);
    double copy_ms = cold_ms(
        [&] { CUDA_CHECK_ABORT(cudaMemcpyAsync(cdst, csrc, ncopy * 4, cudaMemcpyDeviceToDevice)); },
        warm, reps);
    double copy_gbs = 2.0 * ncopy * 4 / (copy_ms * 1e6);
    ssm_cuda_free(csrc), ssm_cuda_free(cdst);

    // conv1d at Vim-Tiny: x [128, 384, 197], K 4, SiLU, bias
    {
        const int64_t B = 128, C = 384, L = 197, K = 4, n = B * C * L;
        float *x = rand_dev(n, -2, 2), *w = rand_dev(C * K, -0.5f, 0.5f), *b = rand_dev(C, -0.5f, 0.5f);
        float *dout = rand_dev(n, -1, 1), *out1 = rand_dev(n, -1, 1), *out2 = rand_dev(n, -1, 1);
        conv_fwd_v1(out1, x, w, b, B, C, L, (int)K);
        CK(conv1d_causal_forward_cuda(out2, x, w, b, B, C, L, K, 1, NULL, 0));
        std::vector<float> h1 = to_host(out1, n), h2 = to_host(out2, n);
        CUDA_CHECK_ABORT(cudaMemset(out2, 0xFF, n * 4));
        CK(conv1d_causal_forward_cuda(out2, x, w, b, B, C, L, K, 1, NULL, 0));
        check("conv fwd v3", rel_err(h2, h1), 1e-6, to_host(out2, n) == h2);
        CUDA_CHECK_ABORT(cudaMemset(out2, 0xFF, n * 4));
        lab_v2::conv_fwd(out2, x, w, b, B, C, L, (int)K);
        check("conv fwd v2", rel_err(to_host(out2, n), h1), 1e-6, true);

        float *dx0 = rand_dev(n, -1, 1), *dw0 = rand_dev(C * K, -1, 1), *db0 = rand_dev(C, -1, 1);
        float *dx1 = copy_dev(dx0, n), *dw1 = copy_dev(dw0, C * K), *db1 = copy_dev(db0, C);
        float *dx2 = copy_dev(dx0, n), *dw2 = copy_dev(dw0, C * K), *db2 = copy_dev(db0, C);
        conv_bwd_v1(dx1, dw1, db1, dout, x, w, b, B, C, L, (int)K);
        CK(conv1d_causal_backward_cuda(dx2, dw2, db2, dout, x, w, b, B, C, L, K, 1, NULL, 0));
        std::vector<float> gx2 = to_host(dx2, n), gw2 = to_host(dw2, C * K), gb2 = to_host(db2, C);
        std::vector<float> hx1 = to_host(dx1, n), hw1 = to_host(dw1, C * K), hb1 = to_host(db1, C);
        check("conv bwd dx v3", rel_err(gx2, hx1), 1e-6, true);
        CUDA_CHECK_ABORT(cudaMemcpy(dw2, dw0, C * K * 4, cudaMemcpyDeviceToDevice));
        CUDA_CHECK_ABORT(cudaMemcpy(db2, db0, C * 4, cudaMemcpyDeviceToDevice));
        CK(conv1d_causal_backward_cuda(NULL, dw2, db2, dout, x, w, b, B, C, L, K, 1, NULL, 0));
        check("conv bwd dw v3", rel_err(gw2, hw1), 1e-5, to_host(dw2, C * K) == gw2);
        check("conv bwd dbias v3", rel_err(gb2, hb1), 1e-5, to_host(db2, C) == gb2);
        float *part;
        CK(ssm_cuda_alloc((void **)&part, 4 * lab_v2::parts_size(B, C, L, (int)K), "bench"));
        CUDA_CHECK_ABORT(cudaMemcpy(dx2, dx0, n * 4, cudaMemcpyDeviceToDevice));
        CUDA_CHECK_ABORT(cudaMemcpy(dw2, dw0, C * K * 4, cudaMemcpyDeviceToDevice));
        CUDA_CHECK_ABORT(cudaMemcpy(db2, db0, C * 4, cudaMemcpyDeviceToDevice));
        lab_v2::conv_bwd(dx2, dw2, db2, part, dout, x, w, b, B, C, L, (int)K);
        check("conv bwd dx v2", rel_err(to_host(dx2, n), hx1), 1e-6, true);
        check("conv bwd dw v2", rel_err(to_host(dw2, C * K), hw1), 1e-5, true);

        double fb = 2.0 * n * 4, bb = 4.0 * n * 4; // fwd: x, out; bwd: x, dout, dx read + write
        // each version timed twice (v1, v2, v3, v1, v2, v3): the spread between a version's
        // two medians is the noise; the table keeps the first, the log both
        for (int round = 0; round < 2; round++) {
            Row f = {
                "conv1d fwd [128,384,197] K4",
                cold_ms([&] { conv_fwd_v1(out1, x, w, b, B, C, L, (int)K); }, warm, reps),
                cold_ms([&] { lab_v2::conv_fwd(out2, x, w, b, B, C, L, (int)K); }, warm, reps),
                cold_ms(
                    [&] { CK(conv1d_causal_forward_cuda(out2, x, w, b, B, C, L, K, 1, NULL, 0)); },
                    warm, reps),
                fb};
            Row g = {"conv1d bwd [128,384,197] K4",
                     cold_ms([&] { conv_bwd_v1(dx1, dw1, db1, dout, x, w, b, B, C, L, (int)K); },
                               warm, reps),
                     cold_ms([&] {
                         lab_v2::conv_bwd(dx2, dw2, db2, part, dout, x, w, b, B, C, L, (int)K);
                     }, warm, reps),
                     cold_ms([&] {
                         CK(conv1d_causal_backward_cuda(dx2, dw2, db2, dout, x, w, b, B, C, L, K, 1, NULL, 0));
                     }, warm, reps),
                     bb};
            printf("  round %d: fwd v1 %.4f v2 %.4f v3 %.4f ms; bwd v1 %.4f v2 %.4f v3 %.4f ms\n",
                   round, f.v1_ms, f.v2_ms, f.v3_ms, g.v1_ms, g.v2_ms, g.v3_ms);
            if (round == 0)
                rows.push_back(f), rows.push_back(g);
        }

        // bf16: x rounded once, the fp32 library conv on the same values as the reference
        ssm_bf16 *xh, *outh, *dxh;
        CK(ssm_cuda_alloc((void **)&xh, n * 2, "bench"));
        CK(ssm_cuda_alloc((void **)&outh, n * 2, "bench"));
        CK(ssm_cuda_alloc((void **)&dxh, n * 2, "bench"));
        CK(cast_f32_to_bf16_cuda(xh, x, n));
        CK(cast_bf16_to_f32_cuda(x, xh, n)); // x now holds the rounded values
        CK(conv1d_causal_forward_cuda(out2, x, w, b, B, C, L, K, 1, NULL, 0));
        CK(cast_f32_to_bf16_cuda(dxh, out2, n));
        CK(cast_bf16_to_f32_cuda(out1, dxh, n)); // the fp32 output, rounded
        CK(conv1d_causal_forward_bf16(outh, xh, w, b, B, C, L, K, 1, NULL, 0));
        CK(cast_bf16_to_f32_cuda(out2, outh, n));
        std::vector<float> hb = to_host(out2, n);
        CUDA_CHECK_ABORT(cudaMemset(outh, 0xFF, n * 2));
        CK(conv1d_causal_forward_bf16(outh, xh, w, b, B, C, L, K, 1, NULL, 0));
        CK(cast_bf16_to_f32_cuda(out2, outh, n));
        check("conv fwd bf16 (vs fp32, rounded)", rel_err(hb, to_host(out1, n)), 5e-3,
              to_host(out2, n) == hb);
        CUDA_CHECK_ABORT(cudaMemcpy(dw1, dw0, C * K * 4, cudaMemcpyDeviceToDevice));
        CUDA_CHECK_ABORT(cudaMemcpy(db1, db0, C * 4, cudaMemcpyDeviceToDevice));
        CK(conv1d_causal_backward_cuda(NULL, dw1, db1, dout, x, w, b, B, C, L, K, 1, NULL, 0));
        CUDA_CHECK_ABORT(cudaMemcpy(dw2, dw0, C * K * 4, cudaMemcpyDeviceToDevice));
        CUDA_CHECK_ABORT(cudaMemcpy(db2, db0, C * 4, cudaMemcpyDeviceToDevice));
        CUDA_CHECK_ABORT(cudaMemset(dxh, 0, n * 2));
        CK(conv1d_causal_backward_bf16(dxh, dw2, db2, dout, 1, xh, w, b, B, C, L, K, 1, NULL, 0));
        check("conv bwd dw bf16 (vs fp32)", rel_err(to_host(dw2, C * K), to_host(dw1, C * K)),
              1e-6, to_host(dw2, C * K) == to_host(dw1, C * K));
        check("conv bwd dbias bf16 (vs fp32)", rel_err(to_host(db2, C), to_host(db1, C)), 1e-6,
              to_host(db2, C) == to_host(db1, C));
        // bytes: fwd x, out (2 B each); bwd x (2), dout (4, fp32), dx read + write (2 + 2)
        rows.push_back({"conv1d fwd bf16 [128,384,197] K4", NAN, NAN,
                        cold_ms([&] {
                            CK(conv1d_causal_forward_bf16(outh, xh, w, b, B, C, L, K, 1, NULL, 0));
                        }, warm, reps),
                        2.0 * n * 2});
        rows.push_back({"conv1d bwd bf16 (fp32 dout) K4", NAN, NAN,
                        cold_ms([&] {
                            CK(conv1d_causal_backward_bf16(dxh, dw2, db2, dout, 1, xh, w, b, B, C,
                                                           L, K, 1, NULL, 0));
                        }, warm, reps),
                        n * (2.0 + 4.0 + 4.0)});
        ssm_cuda_free(xh), ssm_cuda_free(outh), ssm_cuda_free(dxh);
        float *ds[] = {x, w, b, dout, out1, out2, dx0, dw0, db0, dx1, dw1, db1, dx2, dw2, db2, part};
        for (float *d : ds)
            ssm_cuda_free(d);
    }

    // norm weight gradient at Vim-Tiny: [B*L = 25216, d_model = 192]
    {
        const int64_t N = 25216, C = 192, n = N * C;
        float *g = rand_dev(n, -1, 1), *x = rand_dev(n, -2, 3), *rstd = rand_dev(N, 0.5f, 1.5f);
        float *w = rand_dev(C, 0.5f, 1.5f), *dinp = rand_dev(n, -1, 1);
        float *dw0 = rand_dev(C, -1, 1), *dw1 = copy_dev(dw0, C), *dw2 = copy_dev(dw0, C);
        RmsCols f = {g, x, rstd, C};
        colsum_v1(dw1, f, N, C);
        CK(cu_colsum(dw2, (float *)NULL, N, C, f));
        std::vector<float> h2 = to_host(dw2, C);
        CUDA_CHECK_ABORT(cudaMemcpy(dw2, dw0, C * 4, cudaMemcpyDeviceToDevice));
        CK(cu_colsum(dw2, (float *)NULL, N, C, f));
        check("norm dweight column sum", rel_err(h2, to_host(dw1, C)), 1e-5, to_host(dw2, C) == h2);
        double cb = 2.0 * n * 4 + N * 4.0; // g, x, rstd
        rows.push_back({"norm dweight colsum [25216,192]",
                        cold_ms([&] { colsum_v1(dw1, f, N, C); }, warm, reps),
                        cold_ms([&] { CK(cu_colsum(dw2, (float *)NULL, N, C, f)); }, warm, reps),
                        NAN, cb});
        // the whole rmsnorm_backward_cuda (row kernel + column sum), v1 = row kernel + v1 sum
        // is not separable from the library; report v2 only, bytes: g, x, rstd, dinp r+w (rows)
        // + g, x, rstd (column sum)
        double rb = 4.0 * n * 4 + N * 4.0 + cb;
        double whole = cold_ms(
            [&] { CK(rmsnorm_backward_cuda(dinp, dw2, g, x, w, rstd, N, C)); }, warm, reps);
        rows.push_back({"rmsnorm_backward (rows+colsum)", NAN, whole, NAN, rb});
        float *ds[] = {g, x, rstd, w, dinp, dw0, dw1, dw2};
        for (float *d : ds)
            ssm_cuda_free(d);
    }
    ssm_cuda_free(g_flush);

    printf("\n%s, %d SMs; median of %d reps, L2 flushed before each; device-to-device copy %.0f "
           "GB/s (read + write)\n\n",
           prop.name, prop.multiProcessorCount, reps, copy_gbs);
    printf("| kernel | MB moved | v1 ms | v2 ms | v3 ms | last vs v1 | last GB/s | last of copy |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (const Row &r : rows) {
        double last = !isnan(r.v3_ms) ? r.v3_ms : r.v2_ms, gbs = r.bytes / (last * 1e6);
        char c1[32] = "-", c2[32] = "-", c3[32] = "-", sp[32] = "-";
        if (!isnan(r.v1_ms))
            snprintf(c1, sizeof c1, "%.4f", r.v1_ms), snprintf(sp, sizeof sp, "%.1fx", r.v1_ms / last);
        if (!isnan(r.v2_ms))
            snprintf(c2, sizeof c2, "%.4f", r.v2_ms);
        if (!isnan(r.v3_ms))
            snprintf(c3, sizeof c3, "%.4f", r.v3_ms);
        printf("| %s | %.1f | %s | %s | %s | %s | %.0f | %.0f%% |\n", r.name, r.bytes / 1e6, c1,
               c2, c3, sp, gbs, 100 * gbs / copy_gbs);
    }
    if (g_fail)
        printf("\nconv_norm_cuda: A CHECK FAILED (see the check lines above)\n");
    return g_fail;
}
