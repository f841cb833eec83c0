// The selective-scan lab (llm.c's dev/cuda habit): launches the kernel variants of
// kernels/cuda/scan_kernels.cuh directly, checks each against the library's choice on the
// same random inputs, and times it. docs/cuda-scan-notes.md records what each variant was
// predicted to do and what it did.
//   build/bench/scan_lab [B D L N]     (default: 8 1536 4096 16, bf16, chunk 64)
#include <algorithm>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#include "kernels/cuda/common.h"
#include "kernels/cuda/scan.h"
#include "kernels/cuda/scan_kernels.cuh"
#include "kernels/cuda/scan_pipe.cuh"
#include "kernels/cuda/scan_split.cuh"
#include "kernels/cuda/scan_split_bwd.cuh"

#include "bench/cuda_bench.cuh"

#define CK(x) SSM_CUDA_ABORT_ON_ERROR(x)
typedef __nv_bfloat16 bf;

__global__ void fill_bf(bf *x, int64_t n, float lo, float hi, uint32_t seed) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
        x[i] = __float2bfloat16(lo + (hi - lo) * (h >> 8) * (1.f / 16777216.f));
    }
}

static double rel_err_bf(const bf *x, const bf *ref, int64_t n) {
    std::vector<uint16_t> hx(n), hr(n);
    CK(ssm_cuda_download(hx.data(), x, n * 2));
    CK(ssm_cuda_download(hr.data(), ref, n * 2));
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = ssm_bf16_to_float(hx[i]), r = ssm_bf16_to_float(hr[i]);
        num += (a - r) * (a - r), den += r * r;
    }
    return isnan(num) ? INFINITY : sqrt(num / den);
}

template <int P, int MINB = 1, bool CKMID = false> static void fwd_variant(ScanArgs a, const bf *ref, int64_t BDL) {
    a.nblk = (a.dpg + SCAN_THREADS / P - 1) / (SCAN_THREADS / P);
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    size_t smem = scan_fwd_smem_floats<P>(a.N) * 4;
    if (smem > 48 * 1024)
        CUDA_CHECK_ABORT(cudaFuncSetAttribute(scan_fwd_kernel<bf, P, MINB, CKMID>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    CUDA_CHECK_ABORT(cudaMemset(a.out, 0xFF, BDL * 2));
    float ms = median_ms([&] { scan_fwd_kernel<bf, P, MINB, CKMID><<<grid, SCAN_THREADS, smem>>>(a); }, 3, 20);
    printf("fwd P=%2d minblocks=%d ckmid=%d: %.3f ms  rel err vs library %.2g\n", P, MINB, (int)CKMID, ms,
           rel_err_bf((const bf *)a.out, ref, BDL));
}

// v4: the state-split forward (lanes split the states, time runs sequentially per lane)
template <int P> static void fwd_split_variant(ScanArgs a, const bf *ref, int64_t BDL) {
    a.nblk = (a.dpg + SCAN_THREADS / P - 1) / (SCAN_THREADS / P);
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    CUDA_CHECK_ABORT(cudaMemset(a.out, 0xFF, BDL * 2));
    float ms = median_ms([&] { scan_fwd_split_kernel<bf, P, SCAN_ITEMS><<<grid, SCAN_THREADS>>>(a); }, 3, 20);
    printf("fwd split P=%d (states per lane %d): %.3f ms  rel err vs library %.2g\n", P,
           SCAN_SPLIT_NS, ms, rel_err_bf((const bf *)a.out, ref, BDL));
}

// v5: the cp.async-staged state-split forward, TS-step tiles
// NB: v6 (branch-free softplus and gate); false: v5
template <int P, int TS, bool NB = true>
static void fwd_pipe_variant(ScanArgs a, const bf *ref, int64_t BDL) {
    a.nblk = (a.dpg + SCAN_THREADS / P - 1) / (SCAN_THREADS / P);
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    constexpr int smem = scan_fwd_pipe_smem_bytes<bf, P, TS>();
    if (smem > 48 * 1024)
        CUDA_CHECK_ABORT(cudaFuncSetAttribute(scan_fwd_pipe_kernel<bf, P, TS, NB>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    CUDA_CHECK_ABORT(cudaMemset(a.out, 0xFF, BDL * 2));
    float ms = median_ms([&] { scan_fwd_pipe_kernel<bf, P, TS, NB><<<grid, SCAN_THREADS, smem>>>(a); }, 3, 20);
    printf("fwd pipe (%s) P=%d TS=%d (smem %d KB): %.3f ms  rel err vs library %.2g\n",
           NB ? "v6" : "v5", P, TS,
           smem / 1024, ms, rel_err_bf((const bf *)a.out, ref, BDL));
}

// backward scan kernels alone (no reduction kernels): time-split P=4 against state-split
// STAGEBC: v5 (B, C of the chunk staged in shared memory by cp.async); false: v4b
template <int SUB, bool STAGEBC> static void bwd_split_variant(ScanArgs a) {
    a.nblk = (a.dpg + SCAN_THREADS / 4 - 1) / (SCAN_THREADS / 4);
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    size_t smem = scan_bwd_split_smem_bytes<bf, 4, SUB, STAGEBC>();
    CUDA_CHECK_ABORT(cudaFuncSetAttribute(scan_bwd_split_kernel<bf, 4, SUB, STAGEBC>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    float ms = median_ms([&] { scan_bwd_split_kernel<bf, 4, SUB, STAGEBC><<<grid, SCAN_THREADS, smem>>>(a); }, 3, 10);
    printf("bwd kernel state-split SUB=%2d %s (smem %zu KB): %.3f ms\n", SUB,
           STAGEBC ? "v5 staged B,C" : "v4b", smem / 1024, ms);
}
int main(int argc, char **argv) {
    int64_t B = 8, D = 1536, L = 4096, N = 16;
    if (argc == 5)
        B = atoll(argv[1]), D = atoll(argv[2]), L = atoll(argv[3]), N = atoll(argv[4]);
    if (ssm_cuda_device_count() == 0) {
        printf("scan_lab: no CUDA device\n");
        return 0;
    }
    scan_shape s = {B, D, L, N, 1, 64, 1};
    const int64_t BDL = B * D * L, BNL = B * N * L;
    bf *u, *delta, *z, *Bm, *Cm, *out, *ref;
    float *A, *Dk, *bias, *cs;
    CK(ssm_cuda_alloc((void **)&u, BDL * 2, "u"));
    CK(ssm_cuda_alloc((void **)&delta, BDL * 2, "delta"));
    CK(ssm_cuda_alloc((void **)&z, BDL * 2, "z"));
    CK(ssm_cuda_alloc((void **)&out, BDL * 2, "out"));
    CK(ssm_cuda_alloc((void **)&ref, BDL * 2, "ref"));
    CK(ssm_cuda_alloc((void **)&Bm, BNL * 2, "B"));
    CK(ssm_cuda_alloc((void **)&Cm, BNL * 2, "C"));
    CK(ssm_cuda_alloc((void **)&A, D * N * 4, "A"));
    CK(ssm_cuda_alloc((void **)&Dk, D * 4, "D"));
    CK(ssm_cuda_alloc((void **)&bias, D * 4, "bias"));
    CK(ssm_cuda_alloc((void **)&cs, selective_scan_chunk_states_size(&s) * 4, "cs"));
    fill_bf<<<1024, 256>>>(u, BDL, -1, 1, 1);
    fill_bf<<<1024, 256>>>(delta, BDL, -4, 0.5f, 2);
    fill_bf<<<1024, 256>>>(z, BDL, -2, 2, 3);
    fill_bf<<<1024, 256>>>(Bm, BNL, -1, 1, 4);
    fill_bf<<<1024, 256>>>(Cm, BNL, -1, 1, 5);
    fill_kernel<<<1024, 256>>>(A, D * N, -4, -0.5f, 6);
    fill_kernel<<<1024, 256>>>(Dk, D, -1, 1, 7);
    fill_kernel<<<1024, 256>>>(bias, D, -3, -1, 8);
    CK(selective_scan_forward_bf16((ssm_bf16 *)ref, NULL, cs, (ssm_bf16 *)u, (ssm_bf16 *)delta,
                                   A, (ssm_bf16 *)Bm, (ssm_bf16 *)Cm, Dk, (ssm_bf16 *)z, bias,
                                   &s));
    CK(ssm_cuda_sync());
    ScanArgs a;
    memset(&a, 0, sizeof a);
    a.out = out, a.chunk_states = cs, a.u = u, a.delta = delta, a.A = A, a.Bm = Bm, a.Cm = Cm;
    a.Dskip = Dk, a.z = z, a.delta_bias = bias;
    a.B = B, a.D = D, a.L = L, a.N = N, a.G = 1, a.chunk = 64, a.n_chunks = scan_n_chunks(&s);
    a.dpg = D, a.softplus = 1;
    printf("B=%lld D=%lld L=%lld N=%lld bf16, forward variants (lanes per channel P):\n",
           (long long)B, (long long)D, (long long)L, (long long)N);
    // (v1-v3 variants over P: see the notes; P=4 is the previous library choice at L=4096)
    fwd_variant<4>(a, ref, BDL);
    if (N == 16) {
        fwd_split_variant<4>(a, ref, BDL);    // v4b
        fwd_pipe_variant<4, 16, false>(a, ref, BDL); // v5
        fwd_pipe_variant<4, 16, true>(a, ref, BDL);  // v6, the library's choice
        fwd_pipe_variant<4, 16, false>(a, ref, BDL); // both again: the spread between runs
        fwd_pipe_variant<4, 16, true>(a, ref, BDL);
    } else if (N == 8) { // diagnosis: v5 at P=2 against the library (v4b there)
        fwd_split_variant<2>(a, ref, BDL);
        fwd_pipe_variant<2, 16>(a, ref, BDL);
    }
    if (L % 16 || L < 1024) // diagnosis runs (short or tailed shapes): no backward timing
        return 0;
    // backward at chunk 64 (chunks 16 / 32 use the time-split kernels with P = 1 / 2)
    for (int64_t chunk = 64; chunk <= 64; chunk *= 2) {
        scan_shape s2 = s;
        s2.chunk = chunk;
        float *cs2, *ws, *dA, *dB, *dC, *dD, *db;
        bf *du, *ddelta, *dz;
        CK(ssm_cuda_alloc((void **)&cs2, selective_scan_chunk_states_size(&s2) * 4, "cs"));
        CK(ssm_cuda_alloc((void **)&ws, selective_scan_workspace_size_cuda(&s2) * 4, "ws"));
        CK(ssm_cuda_alloc((void **)&du, BDL * 2, "du"));
        CK(ssm_cuda_alloc((void **)&ddelta, BDL * 2, "ddelta"));
        CK(ssm_cuda_alloc((void **)&dz, BDL * 2, "dz"));
        CK(ssm_cuda_alloc((void **)&dA, D * N * 4, "dA"));
        CK(ssm_cuda_alloc((void **)&dB, BNL * 4, "dB"));
        CK(ssm_cuda_alloc((void **)&dC, BNL * 4, "dC"));
        CK(ssm_cuda_alloc((void **)&dD, D * 4, "dD"));
        CK(ssm_cuda_alloc((void **)&db, D * 4, "db"));
        CUDA_CHECK_ABORT(cudaMemset(du, 0, BDL * 2));
        CUDA_CHECK_ABORT(cudaMemset(ddelta, 0, BDL * 2));
        CUDA_CHECK_ABORT(cudaMemset(dz, 0, BDL * 2));
        CK(selective_scan_forward_bf16((ssm_bf16 *)out, NULL, cs2, (ssm_bf16 *)u,
                                       (ssm_bf16 *)delta, A, (ssm_bf16 *)Bm, (ssm_bf16 *)Cm, Dk,
                                       (ssm_bf16 *)z, bias, &s2));
        float ms = median_ms(
            [&] {
                CK(selective_scan_backward_bf16(
                    (ssm_bf16 *)du, (ssm_bf16 *)ddelta, dA, dB, dC, dD, (ssm_bf16 *)dz, db,
                    (ssm_bf16 *)ref, cs2, (ssm_bf16 *)u, (ssm_bf16 *)delta, A, (ssm_bf16 *)Bm,
                    (ssm_bf16 *)Cm, Dk, (ssm_bf16 *)z, bias, ws, &s2));
            },
            3, 10);
        printf("bwd chunk=%2lld: %.3f ms (workspace %.0f MB)\n", (long long)chunk, ms,
               selective_scan_workspace_size_cuda(&s2) * 4e-6);
        if (chunk == 64 && N == 16) { // the scan kernels alone, same inputs
            ScanArgs g = a;
            g.chunk_states = cs2, g.du = du, g.ddelta = ddelta, g.dz = dz, g.dout = ref;
            g.ws_bc = ws;
            g.nblk = (D + 31) / 32;
            g.ws_dA = ws + 2 * B * g.nblk * N * L, g.ws_dD = g.ws_dA + B * D * N;
            g.ws_ddb = g.ws_dD + B * D;
            bwd_split_variant<8, false>(g); // v4b
            bwd_split_variant<8, true>(g);  // v5
            bwd_split_variant<8, false>(g); // v4b again: the spread
            bwd_split_variant<8, true>(g);
        }
        void *bufs[] = {cs2, ws, du, ddelta, dz, dA, dB, dC, dD, db};
        for (void *p : bufs)
            ssm_cuda_free(p);
    }
    return 0;
}
