// CUDA selective scan benchmark: forward and backward at the shapes of the issue, fp32 and
// bf16, with z, D, delta bias and softplus. Prints median ms over CUDA-event-timed repetitions
// after warm-up, and the effective TB/s (each input read once, each output written once; the
// backward's += outputs du, ddelta, dz count as read and written), next to a device-to-device
// copy measured in the same run. Inputs are random (never zeros). Built only with CUDA=1.
//   build/bench/scan_cuda [reps]
#include <algorithm>
#include <stdio.h>
#include <stdlib.h>
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


struct Row {
    int64_t B, D, L, N;
    int bf16;
    double fwd_ms, fwd_tbs, bwd_ms, bwd_tbs;
};

static Row run(int64_t B, int64_t D, int64_t L, int64_t N, int bf16, int reps) {
    scan_shape s = {B, D, L, N, 1, 64, 1};
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
    CK(ssm_cuda_alloc((void **)&ws, selective_scan_workspace_size_cuda(&s) * 4, "workspace"));
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
    Row r = {B, D, L, N, bf16, 0, 0, 0, 0};
    r.fwd_ms = median_ms(fwd, 3, reps);
    r.bwd_ms = median_ms(bwd, 2, reps);
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
    int reps = argc > 1 ? atoi(argv[1]) : 30;
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
    printf("device: %s (%d SMs), %s; copy %.2f TB/s; chunk 64, G=1, z, D, delta bias, softplus\n",
           prop.name, prop.multiProcessorCount, date, copy_tbs);
    std::vector<Row> rows;
    const int64_t shapes[][4] = {{8, 1536, 1024, 16}, {8, 1536, 4096, 16}, {128, 384, 197, 16},
                                 {1, 2048, 16384, 16}, {1, 2048, 65536, 16}};
    for (int bf16 = 1; bf16 >= 0; bf16--)
        for (auto &sh : shapes)
            rows.push_back(run(sh[0], sh[1], sh[2], sh[3], bf16, reps));
    printf("\n| B | D | L | N | dtype | fwd ms | fwd TB/s | bwd ms | bwd TB/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (auto &r : rows)
        printf("| %lld | %lld | %lld | %lld | %s | %.3f | %.2f | %.3f | %.2f |\n",
               (long long)r.B, (long long)r.D, (long long)r.L, (long long)r.N,
               r.bf16 ? "bf16" : "fp32", r.fwd_ms, r.fwd_tbs, r.bwd_ms, r.bwd_tbs);
    return 0;
}
