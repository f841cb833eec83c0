// CUDA selective scan benchmark: forward and backward at the shapes of issue 15, fp32 and
// bf16, with z, D, delta bias and softplus. Prints median ms over CUDA-event-timed repetitions
// after warm-up, and the effective TB/s (each input read once, each output written once; the
// backward's += outputs du, ddelta, dz count as read and written), next to a device-to-device
// copy measured in the same run. Inputs are random (never zeros). Built only with CUDA=1.
// "path" is what the library chose: chunked (time chunks of T steps, the long-row path of
// kernels/cuda/scan_chunked.cuh) or the other kernels; where it chose chunked, the other
// kernels are timed too (SSMKIT_SCAN_CHUNKED=0) in the "other" columns. Slow calls get fewer
// repetitions (at least 3, about 1.5 s each measurement) so the run stays under 2 minutes.
//   build/bench/scan_cuda [reps] [--csv] [--no-other]
//     --csv: one line per shape (bench/compare_mamba_ssm.py reads it) instead of the table
#include <algorithm>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vector>

#include "kernels/cuda/common.h"
#include "kernels/cuda/scan.h"

#include "bench/cuda_bench.cuh"

#define CK(x) SSM_CUDA_ABORT_ON_ERROR(x)

__global__ void to_bf16_kernel(__nv_bfloat16 *y, const float *x, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16(x[i]);
}

static uint32_t g_seed = 1234;
// n random values in [lo, hi), fp32 or bf16
static void *rand_dev(int64_t n, float lo, float hi, int bf16) {
    float *f;
    CK(ssm_cuda_alloc((void **)&f, n * 4, "bench"));
    fill_kernel<<<1024, 256>>>(f, n, lo, hi, g_seed++);
    if (!bf16)
        return f;
    void *h;
    CK(ssm_cuda_alloc(&h, n * 2, "bench"));
    to_bf16_kernel<<<1024, 256>>>((__nv_bfloat16 *)h, f, n);
    CUDA_CHECK_ABORT(cudaDeviceSynchronize());
    ssm_cuda_free(f);
    return h;
}

// median_ms (bench/cuda_bench.cuh) with reps cut down, to 3 at least, when one call (timed
// once after the warm-up) is slower than ~1.5 s / reps: the 1M-token shapes stay short.
template <typename F> static double median_ms_capped(F f, int warm, int reps) {
    for (int i = 0; i < warm; i++)
        f();
    cudaEvent_t a, b;
    CUDA_CHECK_ABORT(cudaEventCreate(&a));
    CUDA_CHECK_ABORT(cudaEventCreate(&b));
    float once = 0.f;
    CUDA_CHECK_ABORT(cudaEventRecord(a));
    f();
    CUDA_CHECK_ABORT(cudaEventRecord(b));
    CUDA_CHECK_ABORT(cudaEventSynchronize(b));
    CUDA_CHECK_ABORT(cudaEventElapsedTime(&once, a, b));
    cudaEventDestroy(a), cudaEventDestroy(b);
    return median_ms(f, 0, std::max(3, std::min(reps, (int)(1500.f / std::max(once, 1e-3f)))));
}

struct Row {
    int64_t B, D, L, N;
    int bf16;
    int64_t tchunk; // the chunked path's time chunk, 0: the other kernels
    double fwd_ms, fwd_tbs, bwd_ms, bwd_tbs;
    double ofwd_ms, obwd_ms; // the other kernels where the library chose chunked (else 0)
};

static void set_chunked(const char *mode) {
    if (mode)
        setenv("SSMKIT_SCAN_CHUNKED", mode, 1);
    else
        unsetenv("SSMKIT_SCAN_CHUNKED");
}

static Row run(int64_t B, int64_t D, int64_t L, int64_t N, int bf16, int reps, bool other) {
    scan_shape s = {B, D, L, N, 1, 64, 1};
    set_chunked(NULL); // the library's own choice
    const int64_t tchunk = selective_scan_cuda_tchunk(&s);
    const int64_t BDL = B * D * L, BNL = B * N * L, ncs = selective_scan_chunk_states_size(&s);
    const int e = bf16 ? 2 : 4;
    void *u = rand_dev(BDL, -1, 1, bf16), *delta = rand_dev(BDL, -4, 0.5f, bf16);
    void *z = rand_dev(BDL, -2, 2, bf16), *Bm = rand_dev(BNL, -1, 1, bf16);
    void *Cm = rand_dev(BNL, -1, 1, bf16), *dout = rand_dev(BDL, -1, 1, bf16);
    float *A = (float *)rand_dev(D * N, -4, -0.5f, 0), *Dk = (float *)rand_dev(D, -1, 1, 0);
    float *bias = (float *)rand_dev(D, -3, -1, 0);
    void *out = rand_dev(BDL, 0, 1, bf16), *du = rand_dev(BDL, 0, 1, bf16);
    void *ddelta = rand_dev(BDL, 0, 1, bf16), *dz = rand_dev(BDL, 0, 1, bf16);
    float *cs = (float *)rand_dev(ncs, 0, 1, 0), *last = (float *)rand_dev(B * D * N, 0, 1, 0);
    float *dA = (float *)rand_dev(D * N, 0, 1, 0), *dB = (float *)rand_dev(BNL, 0, 1, 0);
    float *dC = (float *)rand_dev(BNL, 0, 1, 0), *dD = (float *)rand_dev(D, 0, 1, 0);
    float *db = (float *)rand_dev(D, 0, 1, 0);
    float *ws;
    set_chunked("0");
    const size_t ws_other = selective_scan_workspace_size_cuda(&s);
    set_chunked(NULL);
    const size_t ws_floats = std::max(ws_other, selective_scan_workspace_size_cuda(&s));
    CK(ssm_cuda_alloc((void **)&ws, ws_floats * 4, "workspace"));
    auto fwd = [&] {
        if (bf16)
            CK(selective_scan_forward_bf16((ssm_bf16 *)out, last, cs, (ssm_bf16 *)u,
                                           (ssm_bf16 *)delta, A, (ssm_bf16 *)Bm, (ssm_bf16 *)Cm,
                                           Dk, (ssm_bf16 *)z, bias, &s));
        else
            CK(selective_scan_forward_cuda((float *)out, last, cs, (float *)u, (float *)delta, A,
                                           (float *)Bm, (float *)Cm, Dk, (float *)z, bias, &s));
    };
    auto bwd = [&] {
        if (bf16)
            CK(selective_scan_backward_bf16(
                (ssm_bf16 *)du, (ssm_bf16 *)ddelta, dA, dB, dC, Dk ? dD : NULL, (ssm_bf16 *)dz, db,
                (ssm_bf16 *)dout, cs, (ssm_bf16 *)u, (ssm_bf16 *)delta, A, (ssm_bf16 *)Bm,
                (ssm_bf16 *)Cm, Dk, (ssm_bf16 *)z, bias, ws, &s));
        else
            CK(selective_scan_backward_cuda((float *)du, (float *)ddelta, dA, dB, dC, dD,
                                            (float *)dz, db, (float *)dout, cs, (float *)u,
                                            (float *)delta, A, (float *)Bm, (float *)Cm, Dk,
                                            (float *)z, bias, ws, &s));
    };
    Row r = {B, D, L, N, bf16, tchunk, 0, 0, 0, 0, 0, 0};
    r.fwd_ms = median_ms_capped(fwd, 3, reps);
    r.bwd_ms = median_ms_capped(bwd, 2, reps);
    if (tchunk && other) {
        set_chunked("0");
        r.ofwd_ms = median_ms_capped(fwd, 2, reps);
        r.obwd_ms = median_ms_capped(bwd, 1, reps);
        set_chunked(NULL);
    }
    CK(ssm_cuda_sync());
    // fwd: u, delta, z, B, C read; out, chunk states, last state written
    double fb = (double)e * (3 * BDL + 2 * BNL + BDL) + 4.0 * (ncs + B * D * N);
    // bwd: u, delta, z, dout, B, C, states read; du, ddelta, dz read + written; dB, dC += (fp32)
    double bb = (double)e * (4 * BDL + 2 * BNL + 6 * BDL) + 4.0 * (ncs + 4 * BNL);
    r.fwd_tbs = fb / (r.fwd_ms * 1e-3) / 1e12;
    r.bwd_tbs = bb / (r.bwd_ms * 1e-3) / 1e12;
    void *bufs[] = {u, delta, z, Bm, Cm, dout, A, Dk, bias, out, du, ddelta, dz, cs, last, dA, dB,
                    dC, dD, db, ws};
    for (void *p : bufs)
        ssm_cuda_free(p);
    return r;
}

int main(int argc, char **argv) {
    int reps = 30;
    bool csv = false, other = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv"))
            csv = true;
        else if (!strcmp(argv[i], "--no-other"))
            other = false;
        else if (atoi(argv[i]) > 0)
            reps = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: %s [reps] [--csv] [--no-other]\n", argv[0]);
            return 2;
        }
    }
    if (ssm_cuda_device_count() == 0) {
        printf("scan_cuda: no CUDA device, nothing to time\n");
        return 0;
    }
    cudaDeviceProp prop;
    CUDA_CHECK_ABORT(cudaGetDeviceProperties(&prop, 0));
    // copy ceiling: 1 GiB device-to-device, bytes read + bytes written
    const size_t cb = (size_t)1 << 30;
    void *c0, *c1;
    CK(ssm_cuda_alloc(&c0, cb, "copy"));
    CK(ssm_cuda_alloc(&c1, cb, "copy"));
    CUDA_CHECK_ABORT(cudaMemset(c0, 1, cb));
    double copy_ms = median_ms([&] { CUDA_CHECK_ABORT(cudaMemcpy(c1, c0, cb, cudaMemcpyDeviceToDevice)); }, 3, 20);
    ssm_cuda_free(c0), ssm_cuda_free(c1);
    double copy_tbs = 2.0 * cb / (copy_ms * 1e-3) / 1e12;
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    printf("%sdevice: %s (%d SMs), %s; copy %.2f TB/s; chunk 64, G=1, z, D, delta bias, "
           "softplus\n",
           csv ? "# " : "", prop.name, prop.multiProcessorCount, date, copy_tbs);
    std::vector<Row> rows;
    const int64_t shapes[][4] = {{8, 1536, 1024, 16},  {8, 1536, 4096, 16},  {128, 384, 197, 16},
                                 {1, 2048, 16384, 16}, {1, 2048, 65536, 16}, {1, 256, 100000, 16},
                                 {1, 512, 1048576, 16}};
    for (int bf16 = 1; bf16 >= 0; bf16--)
        for (auto &sh : shapes) {
            rows.push_back(run(sh[0], sh[1], sh[2], sh[3], bf16, reps, other));
            fflush(stdout);
        }
    if (csv) {
        printf("B,D,L,N,dtype,path,fwd_ms,bwd_ms,other_fwd_ms,other_bwd_ms\n");
        for (auto &r : rows) {
            char path[32] = "default";
            if (r.tchunk)
                snprintf(path, sizeof path, "chunked %lld", (long long)r.tchunk);
            printf("%lld,%lld,%lld,%lld,%s,%s,%.4f,%.4f,%.4f,%.4f\n", (long long)r.B,
                   (long long)r.D, (long long)r.L, (long long)r.N, r.bf16 ? "bf16" : "fp32", path,
                   r.fwd_ms, r.bwd_ms, r.ofwd_ms, r.obwd_ms);
        }
        return 0;
    }
    printf("\n| B | D | L | N | dtype | path | fwd ms | fwd TB/s | bwd ms | bwd TB/s | other fwd ms "
           "| other bwd ms |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (auto &r : rows) {
        char path[32], of[32] = "-", ob[32] = "-";
        if (r.tchunk)
            snprintf(path, sizeof path, "chunked %lld", (long long)r.tchunk);
        else
            snprintf(path, sizeof path, "default");
        if (r.ofwd_ms > 0)
            snprintf(of, sizeof of, "%.3f", r.ofwd_ms), snprintf(ob, sizeof ob, "%.3f", r.obwd_ms);
        printf("| %lld | %lld | %lld | %lld | %s | %s | %.3f | %.2f | %.3f | %.2f | %s | %s |\n",
               (long long)r.B, (long long)r.D, (long long)r.L, (long long)r.N,
               r.bf16 ? "bf16" : "fp32", path, r.fwd_ms, r.fwd_tbs, r.bwd_ms, r.bwd_tbs, of, ob);
    }
    return 0;
}
