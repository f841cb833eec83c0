// defines: scan_chunked_forward, scan_chunked_backward
// Launches the three passes of the chunked selective scan (kernels/cuda/scan_chunked.cuh
// says what each does; kernels/cuda/scan.cu decides when this path runs). Grids put the time
// chunk in x (k * nblk + channel block), so the limits of y (G) and z (B) stay those of the
// other kernels.
#include "kernels/cuda/scan_chunked.h"

#include "kernels/cuda/scan_chunked.cuh"

template <typename T, int P, bool SEG> static ssm_code fwd_passes(const ScanArgs &a) {
    const int64_t K = a.n_tchunks;
    dim3 g1((unsigned)(a.nblk * (K - 1)), (unsigned)a.G, (unsigned)a.B);
    scan_fwd_csum_kernel<T, P, SEG><<<g1, SCAN_THREADS, 0, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_fwd_csum_kernel");
    const int64_t BDN = a.B * a.D * a.N;
    scan_fwd_carry_kernel<<<(unsigned)((BDN + 127) / 128), 128, 0, ssm_cuda_stream()>>>(
        (float *)a.chunk_states, a.B * a.D, a.N, a.n_chunks, K, a.tchunk / a.chunk);
    CUDA_LAUNCH_CHECK("scan_fwd_carry_kernel");
    dim3 g3((unsigned)(a.nblk * K), (unsigned)a.G, (unsigned)a.B);
    scan_fwd_split_kernel<T, P, SCAN_ITEMS, true, SEG>
        <<<g3, SCAN_THREADS, 0, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_fwd_split_kernel (chunked)");
    return SSM_OK;
}

template <typename T, int P> static ssm_code fwd_lanes(const ScanArgs &a) {
    return a.seg_offsets ? fwd_passes<T, P, true>(a) : fwd_passes<T, P, false>(a);
}

template <typename T> ssm_code scan_chunked_forward(const ScanArgs &a, int P) {
    switch (P) {
    case 2: return fwd_lanes<T, 2>(a);
    case 4: return fwd_lanes<T, 4>(a);
    case 8: return fwd_lanes<T, 8>(a);
    default:
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "scan_chunked_forward: %d lanes per channel (N = %lld); the "
                              "chunked path takes N = 8, 16 or 32",
                              P, (long long)a.N);
    }
}

template <typename T, int P, bool SEG>
static ssm_code bwd_passes(ScanArgs a, float *E, float *Pr) {
    const int64_t K = a.n_tchunks, BDN = a.B * a.D * a.N;
    dim3 g1((unsigned)(a.nblk * (K - 1)), (unsigned)a.G, (unsigned)a.B);
    scan_bwd_csum_kernel<T, P, SEG><<<g1, SCAN_THREADS, 0, ssm_cuda_stream()>>>(a, E, Pr);
    CUDA_LAUNCH_CHECK("scan_bwd_csum_kernel");
    scan_bwd_carry_kernel<<<(unsigned)((BDN + 127) / 128), 128, 0, ssm_cuda_stream()>>>(E, Pr, BDN,
                                                                                        K);
    CUDA_LAUNCH_CHECK("scan_bwd_carry_kernel");
    a.carry = E;
    // as the library's state-split backward: B, C of each checkpoint chunk staged in shared
    // memory for bf16 (v5), read from L1/L2 for fp32 (v4b)
    constexpr bool STAGEBC = sizeof(T) == 2;
    const size_t smem = (size_t)scan_bwd_split_smem_bytes<T, P, SCAN_SPLIT_SUB, STAGEBC>();
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(
            scan_bwd_split_kernel<T, P, SCAN_SPLIT_SUB, STAGEBC, true, SEG>,
            cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 g3((unsigned)(a.nblk * K), (unsigned)a.G, (unsigned)a.B);
    scan_bwd_split_kernel<T, P, SCAN_SPLIT_SUB, STAGEBC, true, SEG>
        <<<g3, SCAN_THREADS, smem, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_bwd_split_kernel (chunked)");
    return SSM_OK;
}

template <typename T, int P> static ssm_code bwd_lanes(ScanArgs a, float *E, float *Pr) {
    return a.seg_offsets ? bwd_passes<T, P, true>(a, E, Pr) : bwd_passes<T, P, false>(a, E, Pr);
}

template <typename T> ssm_code scan_chunked_backward(ScanArgs a, int P, float *E, float *Pr) {
    switch (P) {
    case 2: return bwd_lanes<T, 2>(a, E, Pr);
    case 4: return bwd_lanes<T, 4>(a, E, Pr);
    case 8: return bwd_lanes<T, 8>(a, E, Pr);
    default:
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "scan_chunked_backward: %d lanes per channel (N = %lld); the "
                              "chunked path takes N = 8, 16 or 32",
                              P, (long long)a.N);
    }
}

template ssm_code scan_chunked_forward<float>(const ScanArgs &, int);
template ssm_code scan_chunked_forward<__nv_bfloat16>(const ScanArgs &, int);
template ssm_code scan_chunked_backward<float>(ScanArgs, int, float *, float *);
template ssm_code scan_chunked_backward<__nv_bfloat16>(ScanArgs, int, float *, float *);
