// defines: selective_scan_forward_cuda, selective_scan_backward_cuda,
//          selective_scan_forward_bf16, selective_scan_backward_bf16,
//          selective_scan_workspace_size_cuda
// Host side of the CUDA selective scan: checks the shape, picks the lanes per channel, and
// launches the kernels of scan_kernels.cuh. docs/cuda-scan-notes.md has the design and the
// measurements behind the choices here.
// Packed rows (s->seg_offsets, a device array): the time-split kernels' SEG instances
// (scan_seg.cuh), or the chunked path's where it runs. The plain state-split and pipelined
// kernels have no segment support; they only pay off with many channels in flight
// (B*D*P >= 256 per SM), which a packed call (usually B = 1) does not bring, so they are not
// asked to.
// Long rows with few channels (B*D*P < 256 per SM, L >= 4096): the chunked path
// (scan_chunked.cuh, launched by scan_chunked.cu), see chunked_tchunk below.
#include "kernels/cuda/scan.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/scan_chunked.h"
#include "kernels/cuda/scan_kernels.cuh"
#include "kernels/cuda/scan_pipe.cuh"
#include "kernels/cuda/scan_split.cuh"
#include "kernels/cuda/scan_split_bwd.cuh"

// Lanes per channel in the backward: the smallest P with P*SCAN_ITEMS >= chunk.
static int bwd_lanes(int64_t chunk) {
    return chunk <= SCAN_ITEMS ? 1 : chunk <= 2 * SCAN_ITEMS ? 2 : 4;
}

// Lanes per channel in the forward: the fewest lanes that give about 256 threads per
// multiprocessor (each lane does less scan overhead when P is small; measured on an H100 at
// B=8, D=1536, L=4096: P=4 0.76 ms, P=8 0.81, P=16 0.93, P=32 1.69), without tiles much
// longer than the sequence.
static int64_t num_sms(void) {
    static int sms = 0;
    if (!sms && cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) {
        cudaGetLastError();
        sms = 132;
    }
    return sms;
}

// Lanes per channel of the state-split kernels (scan_split.cuh), or 0 where they do not
// apply: N = 4P with P <= 8, checkpoints on 16-step tile ends, and enough channels that
// B*D*P threads give at least 256 per multiprocessor (else the time-split kernels, which
// spread one channel's steps over up to 32 lanes, fill the GPU better: B=1, D=2048).
static int split_shape_lanes(const scan_shape *s) { // the shape test alone
    if (s->seg_offsets || s->N % SCAN_SPLIT_NS || s->N > 8 * SCAN_SPLIT_NS || s->chunk % SCAN_ITEMS)
        return 0;
    const int P = (int)(s->N / SCAN_SPLIT_NS);
    return P == 3 || P > 4 && P != 8 ? 0 : P;
}
static int split_lanes(const scan_shape *s) {
    const int P = split_shape_lanes(s);
    return s->B * s->D * P >= num_sms() * 256 ? P : 0;
}

// The most dynamic shared memory one block of the current GPU may opt into: 227 KB on
// sm_90, 163 KB on sm_80, 99 KB on sm_86 and sm_89 (fat binaries run on all of them).
static int64_t smem_optin(void) {
    int dev = 0, bytes = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
        cudaGetLastError();
        return 99 * 1024; // the smallest of the architectures built
    }
    return bytes;
}

// The chunked path (scan_chunked.cuh) for this shape: its steps per time chunk, or 0 where
// the other kernels run. It takes the state-split kernels' shapes (N = 4P with P = 2, 4, 8;
// chunk a multiple of 16, at most the backward's 64) and needs at least two time chunks.
// Rule (SSMKIT_SCAN_CHUNKED unset or "auto"): where those kernels alone would not fill the
// GPU (B*D*P < 256 threads per multiprocessor, the test split_lanes makes) and L >= 4096;
// SSMKIT_SCAN_CHUNKED=1 takes it wherever the shape allows, =0 never (tests compare paths).
// The time chunk: enough of them for ~4 waves of 3 blocks per multiprocessor, at least 512
// steps (the carry pass is sequential over the chunks), rounded up to whole checkpoint
// chunks, at least two of them (the forward keeps its carries in chunk_states, one of them
// in a checkpoint inside the time chunk); SSMKIT_SCAN_TCHUNK=steps sets it (then rounded the
// same way). Both variables are read at every call: set them before sizing a workspace.
static int64_t chunked_tchunk(const scan_shape *s) {
    const char *m = getenv("SSMKIT_SCAN_CHUNKED");
    const int mode = !m || !*m || !strcmp(m, "auto") ? -1 : atoi(m) ? 1 : 0;
    if (mode == 0 || s->N % SCAN_SPLIT_NS || s->chunk % SCAN_ITEMS ||
        s->chunk > SCAN_CUDA_MAX_BWD_CHUNK)
        return 0;
    const int64_t P = s->N / SCAN_SPLIT_NS;
    if (P != 2 && P != 4 && P != 8)
        return 0;
    if (mode < 0 && (s->B * s->D * P >= num_sms() * 256 || s->L < 4096))
        return 0;
    int64_t tc = 0;
    const char *t = getenv("SSMKIT_SCAN_TCHUNK");
    if (t && atoll(t) > 0) {
        tc = atoll(t);
    } else {
        const int64_t cpb = SCAN_THREADS / P, nblk = (s->D / s->G + cpb - 1) / cpb;
        const int64_t per = nblk * s->G * s->B, want = 12 * num_sms();
        const int64_t K = (want + per - 1) / per;
        tc = (s->L + K - 1) / K;
        if (tc < 512)
            tc = 512;
    }
    tc = (tc + s->chunk - 1) / s->chunk * s->chunk;
    if (tc < 2 * s->chunk)
        tc = 2 * s->chunk;
    return s->L > tc ? tc : 0;
}

extern "C" int64_t selective_scan_cuda_tchunk(const scan_shape *s) {
    return s && s->chunk >= 1 && s->N >= 1 && s->L >= 1 && s->G >= 1 ? chunked_tchunk(s) : 0;
}

static int64_t fwd_smem_bytes(int P, int64_t N) {
    switch (P) {
    case 2: return scan_fwd_smem_floats<2>(N) * (int64_t)sizeof(float);
    case 4: return scan_fwd_smem_floats<4>(N) * (int64_t)sizeof(float);
    case 8: return scan_fwd_smem_floats<8>(N) * (int64_t)sizeof(float);
    case 16: return scan_fwd_smem_floats<16>(N) * (int64_t)sizeof(float);
    default: return scan_fwd_smem_floats<32>(N) * (int64_t)sizeof(float);
    }
}

static int fwd_lanes(const scan_shape *s) {
    const int64_t sms = num_sms();
    int P = 2;
    while (P < 32 && s->B * s->D * P < (int64_t)sms * 256)
        P *= 2;
    while (P > 2 && (int64_t)(P / 2) * SCAN_ITEMS >= s->L)
        P /= 2;
    // fewer lanes need less shared memory: large N on a GPU with 99 KB a block (sm_86/89)
    const int64_t optin = smem_optin();
    while (P > 2 && fwd_smem_bytes(P, s->N) > optin)
        P /= 2;
    return P;
}

// A clear refusal where even the smallest tiling of a kernel needs more shared memory than
// the GPU gives one block (the launch would fail with "invalid argument").
static ssm_code check_smem(size_t need, const char *kernel, int64_t N) {
    const int64_t optin = smem_optin();
    if ((int64_t)need <= optin)
        return SSM_OK;
    return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                          "%s: d_state N=%lld needs %zu bytes of shared memory a block, and this "
                          "GPU allows %lld; use a smaller d_state (mamba_ssm's default is 16)",
                          kernel, (long long)N, need, (long long)optin);
}

static ssm_code check_shape(const scan_shape *s, const char *who) {
    if (!s || s->B < 1 || s->D < 1 || s->L < 1 || s->N < 1 || s->G < 1 || s->chunk < 1)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: shape must have B, D, L, N, G, chunk >= 1", who);
    if (s->D % s->G)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: D=%lld is not a multiple of G=%lld", who, (long long)s->D,
                              (long long)s->G);
    if (s->B > 65535 || s->G > 65535)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: B=%lld and G=%lld must be <= 65535 (grid limits)", who,
                              (long long)s->B, (long long)s->G);
    // the offsets themselves are device memory: their values are the caller's to check
    // (ssm_packing_check on the host copy); here only what the host knows
    if (s->seg_offsets && (s->n_segs < 1 || s->n_segs > s->L))
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: %lld packed sequences in rows of L=%lld (need 1..L)", who,
                              (long long)s->n_segs, (long long)s->L);
    return SSM_OK;
}

static ScanArgs make_args(const scan_shape *s, int P) {
    ScanArgs a;
    memset(&a, 0, sizeof a);
    a.B = s->B;
    a.D = s->D;
    a.L = s->L;
    a.N = s->N;
    a.G = s->G;
    a.chunk = s->chunk;
    a.n_chunks = scan_n_chunks(s);
    a.dpg = s->D / s->G;
    a.nblk = (a.dpg + SCAN_THREADS / P - 1) / (SCAN_THREADS / P);
    a.softplus = s->delta_softplus;
    a.seg_offsets = s->seg_offsets;
    a.n_segs = s->seg_offsets ? s->n_segs : 0;
    return a;
}

// The backward's workspace: [2][B, G, nblk, N, L] dB/dC partials per block, then dA, dD,
// ddelta_bias partials per (b, d) ([B * K, D] rows on the chunked path, K time chunks), then
// on the chunked path the carried adjoints and decays, [K][B, D, N] each.
extern "C" size_t selective_scan_workspace_size_cuda(const scan_shape *s) {
    const int64_t tc = chunked_tchunk(s);
    const int Ps = tc ? (int)(s->N / SCAN_SPLIT_NS) : split_lanes(s);
    const int P = Ps ? Ps : bwd_lanes(s->chunk);
    const int64_t nblk = (s->D / s->G + SCAN_THREADS / P - 1) / (SCAN_THREADS / P);
    const int64_t K = tc ? (s->L + tc - 1) / tc : 1;
    return (size_t)(2 * s->B * s->G * nblk * s->N * s->L + K * (s->B * s->D * s->N + 2 * s->B * s->D) +
                    (tc ? 2 * K * s->B * s->D * s->N : 0));
}

template <typename T, int P, bool CKMID, bool SEG>
static ssm_code launch_fwd_(const ScanArgs &a) {
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    size_t smem = (size_t)scan_fwd_smem_floats<P>(a.N) * sizeof(float);
    SSM_TRY(check_smem(smem, "scan_fwd_kernel", a.N));
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(scan_fwd_kernel<T, P, 1, CKMID, SEG>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    scan_fwd_kernel<T, P, 1, CKMID, SEG><<<grid, SCAN_THREADS, smem, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_fwd_kernel");
    return SSM_OK;
}
template <typename T, int P> static ssm_code launch_fwd(const ScanArgs &a) {
    if (a.seg_offsets)
        return a.chunk % SCAN_ITEMS ? launch_fwd_<T, P, true, true>(a)
                                    : launch_fwd_<T, P, false, true>(a);
    return a.chunk % SCAN_ITEMS ? launch_fwd_<T, P, true, false>(a)
                                : launch_fwd_<T, P, false, false>(a);
}

template <typename T, int P> static ssm_code launch_fwd_split(const ScanArgs &a) {
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    scan_fwd_split_kernel<T, P, SCAN_ITEMS><<<grid, SCAN_THREADS, 0, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_fwd_split_kernel");
    return SSM_OK;
}

// v7: the cp.async-staged state-split forward (scan_pipe.cuh), 16-step tiles.
template <typename T, int P> static ssm_code launch_fwd_pipe(const ScanArgs &a) {
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    constexpr int smem = scan_fwd_pipe_smem_bytes<T, P, SCAN_ITEMS>();
    SSM_TRY(check_smem(smem, "scan_fwd_pipe_kernel", a.N));
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(scan_fwd_pipe_kernel<T, P, SCAN_ITEMS>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    scan_fwd_pipe_kernel<T, P, SCAN_ITEMS><<<grid, SCAN_THREADS, smem, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_fwd_pipe_kernel");
    return SSM_OK;
}
// v5/v6's staging (cp.async src-size zero fill at the row's end), SSMKIT_SCAN_PIPE=zfill:
// kept to tell on a device whether that form is what broke v6 at partial last tiles.
template <typename T, int P> static ssm_code launch_fwd_pipe_zfill(const ScanArgs &a) {
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    constexpr int smem = scan_fwd_pipe_smem_bytes<T, P, SCAN_ITEMS>();
    SSM_TRY(check_smem(smem, "scan_fwd_pipe_kernel", a.N));
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(scan_fwd_pipe_kernel<T, P, SCAN_ITEMS, true, true>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    scan_fwd_pipe_kernel<T, P, SCAN_ITEMS, true, true>
        <<<grid, SCAN_THREADS, smem, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_fwd_pipe_kernel (zfill)");
    return SSM_OK;
}

// Which forward the dispatch takes (SSMKIT_SCAN_PIPE, read at every call). Unset or "auto":
// the rule in scan_forward, which leaves the pipelined forward (v7) out until it is fixed
// (docs/cuda-scan-notes.md, "v7"). The others compare paths (tests, benches), each wherever
// the shape allows it, with or without enough channels: "1": v7; "0": never v7 (the rule
// before v5: v4b below 1024 steps, v3 above); "split": v4b; "zfill": v5/v6's staging (a
// diagnosis, launch_fwd_pipe_zfill).
enum { PIPE_AUTO, PIPE_ON, PIPE_OFF, PIPE_SPLIT, PIPE_ZFILL };
static int pipe_mode(void) {
    const char *m = getenv("SSMKIT_SCAN_PIPE");
    if (!m || !*m || !strcmp(m, "auto"))
        return PIPE_AUTO;
    if (!strcmp(m, "split"))
        return PIPE_SPLIT;
    if (!strcmp(m, "zfill"))
        return PIPE_ZFILL;
    return atoi(m) ? PIPE_ON : PIPE_OFF;
}

static const char *fwd_path = "";
extern "C" const char *selective_scan_cuda_fwd_path(void) { return fwd_path; }

// The pipelined forward copies 16-byte pieces of every row: rows and pointers aligned.
static bool rows_aligned(const scan_shape *s, size_t elem, const void *const *ptrs, int n) {
    if ((s->L * (int64_t)elem) % 16 || s->L >= (1 << 30))
        return false;
    for (int i = 0; i < n; i++)
        if ((uintptr_t)ptrs[i] % 16)
            return false;
    return true;
}

template <typename T>
static ssm_code scan_forward(void *out, float *last_state, float *chunk_states, const void *u,
                             const void *delta, const float *A, const void *Bm, const void *Cm,
                             const float *Dskip, const void *z, const float *delta_bias,
                             const scan_shape *s, const char *who) {
    SSM_TRY(check_shape(s, who));
    if (!out || !u || !delta || !A || !Bm || !Cm)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: out, u, delta, A, Bm, Cm must be device pointers, not NULL",
                              who);
    // The state-split forward won only at short sequences (H100, bf16: 0.216 against 0.309 ms
    // at B=128 D=384 L=197; 0.204 / 0.199 at L=1024; 0.771 / 0.753 at L=4096): see
    // docs/cuda-scan-notes.md, v4.
    // v7 (cp.async staging, scan_pipe.cuh) wherever the state-split kernels apply with 2, 4
    // or 8 lanes (N = 8, 16, 32), fp32 and bf16, any L, rows of whole 16-byte pieces: at the
    // target shape it took 0.57 ms against v3's 0.75 and v4b's 0.77 (H100, bf16; v6, the same
    // arithmetic). v5/v6 ran only for bf16, N = 16, L % 16 == 0: with a partial last tile
    // they gave wrong outputs on a device (docs/cuda-scan-notes.md, v5 and v7). Else v4b at
    // short sequences and the time-split kernel at long ones.
    // few channels, a long row: the chunked path (its carries live in chunk_states)
    const int64_t tc = chunk_states ? chunked_tchunk(s) : 0;
    if (tc) {
        const int Pc = (int)(s->N / SCAN_SPLIT_NS);
        ScanArgs a = make_args(s, Pc);
        a.out = out;
        a.last_state = last_state;
        a.chunk_states = chunk_states;
        a.u = u;
        a.delta = delta;
        a.A = A;
        a.Bm = Bm;
        a.Cm = Cm;
        a.Dskip = Dskip;
        a.z = z;
        a.delta_bias = delta_bias;
        a.tchunk = tc;
        a.n_tchunks = (s->L + tc - 1) / tc;
        fwd_path = "chunked";
        return scan_chunked_forward<T>(a, Pc);
    }
    const void *ptrs[] = {out, u, delta, Bm, Cm, z};
    const int mode = pipe_mode();
    const int Psl = mode == PIPE_AUTO || mode == PIPE_OFF ? split_lanes(s) : split_shape_lanes(s);
    // v7 only when asked for: on the H100 (2026-12-08) its output was wrong at every tested
    // shape with a partial last tile (tests/test_cuda_scan_tail.c, test_cuda's split cases),
    // zero-fill staging too; the unpipelined rule passed every CUDA suite.
    const int Pp = (mode == PIPE_ON || mode == PIPE_ZFILL) && Psl >= 2 &&
                           rows_aligned(s, sizeof(T), ptrs, z ? 6 : 5)
                       ? Psl
                       : 0;
    const int Ps = !Pp && (mode == PIPE_SPLIT || s->L < 1024) ? Psl : 0;
    const int P = Pp ? Pp : Ps ? Ps : fwd_lanes(s);
    ScanArgs a = make_args(s, P);
    a.out = out;
    a.last_state = last_state;
    a.chunk_states = chunk_states;
    a.u = u;
    a.delta = delta;
    a.A = A;
    a.Bm = Bm;
    a.Cm = Cm;
    a.Dskip = Dskip;
    a.z = z;
    a.delta_bias = delta_bias;
    fwd_path = Pp ? (mode == PIPE_ZFILL ? "pipe_zfill" : "pipe") : Ps ? "split" : "time";
    if (Pp && mode == PIPE_ZFILL)
        switch (Pp) {
        case 2: return launch_fwd_pipe_zfill<T, 2>(a);
        case 4: return launch_fwd_pipe_zfill<T, 4>(a);
        default: return launch_fwd_pipe_zfill<T, 8>(a);
        }
    switch (Pp) {
    case 2: return launch_fwd_pipe<T, 2>(a);
    case 4: return launch_fwd_pipe<T, 4>(a);
    case 8: return launch_fwd_pipe<T, 8>(a);
    default: break;
    }
    switch (Ps) {
    case 1: return launch_fwd_split<T, 1>(a);
    case 2: return launch_fwd_split<T, 2>(a);
    case 4: return launch_fwd_split<T, 4>(a);
    case 8: return launch_fwd_split<T, 8>(a);
    default: break;
    }
    switch (P) {
    case 2: return launch_fwd<T, 2>(a);
    case 4: return launch_fwd<T, 4>(a);
    case 8: return launch_fwd<T, 8>(a);
    case 16: return launch_fwd<T, 16>(a);
    default: return launch_fwd<T, 32>(a);
    }
}

template <typename T, int P, bool SEG> static ssm_code launch_bwd_(const ScanArgs &a) {
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    size_t smem = (size_t)scan_bwd_smem_floats<P>(a.N) * sizeof(float);
    SSM_TRY(check_smem(smem, "scan_bwd_kernel", a.N));
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(scan_bwd_kernel<T, P, SEG>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    scan_bwd_kernel<T, P, SEG><<<grid, SCAN_THREADS, smem, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_bwd_kernel");
    return SSM_OK;
}
template <typename T, int P> static ssm_code launch_bwd(const ScanArgs &a) {
    return a.seg_offsets ? launch_bwd_<T, P, true>(a) : launch_bwd_<T, P, false>(a);
}

// bf16: B, C of each chunk staged in shared memory (v5); fp32 stays on v4b (the staging
// would cost the third block per multiprocessor). SSMKIT_SCAN_BWD_STAGE=1 stages fp32 too
// (two blocks per multiprocessor): the experiment that measures that trade.
static bool fp32_bwd_stage() {
    const char *m = getenv("SSMKIT_SCAN_BWD_STAGE");
    return m && strcmp(m, "1") == 0;
}
template <typename T, int P, bool STAGEBC> static ssm_code launch_bwd_split_(const ScanArgs &a) {
    dim3 grid((unsigned)a.nblk, (unsigned)a.G, (unsigned)a.B);
    size_t smem = (size_t)scan_bwd_split_smem_bytes<T, P, SCAN_SPLIT_SUB, STAGEBC>();
    SSM_TRY(check_smem(smem, "scan_bwd_split_kernel", a.N));
    if (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(scan_bwd_split_kernel<T, P, SCAN_SPLIT_SUB, STAGEBC>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    scan_bwd_split_kernel<T, P, SCAN_SPLIT_SUB, STAGEBC>
        <<<grid, SCAN_THREADS, smem, ssm_cuda_stream()>>>(a);
    CUDA_LAUNCH_CHECK("scan_bwd_split_kernel");
    return SSM_OK;
}
template <typename T, int P> static ssm_code launch_bwd_split(const ScanArgs &a) {
    if (sizeof(T) == 2 || fp32_bwd_stage())
        return launch_bwd_split_<T, P, true>(a);
    return launch_bwd_split_<T, P, false>(a);
}

template <typename T>
static ssm_code scan_backward(void *du, void *ddelta, float *dA, float *dBm, float *dCm,
                              float *dDskip, void *dz, float *ddelta_bias, const void *dout,
                              const float *chunk_states, const void *u, const void *delta,
                              const float *A, const void *Bm, const void *Cm, const float *Dskip,
                              const void *z, const float *delta_bias, float *workspace,
                              const scan_shape *s, const char *who) {
    SSM_TRY(check_shape(s, who));
    if (s->chunk > SCAN_CUDA_MAX_BWD_CHUNK)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: chunk=%lld, but the CUDA backward re-runs one chunk per tile "
                              "and needs chunk <= %d",
                              who, (long long)s->chunk, SCAN_CUDA_MAX_BWD_CHUNK);
    if (!du || !ddelta || !dout || !chunk_states || !u || !delta || !A || !Bm || !Cm ||
        !workspace)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "%s: du, ddelta, dout, chunk_states, u, delta, A, Bm, Cm and "
                              "workspace must be device pointers, not NULL",
                              who);
    const int64_t tc = chunked_tchunk(s);
    const int Ps = tc ? (int)(s->N / SCAN_SPLIT_NS) : split_lanes(s);
    const int P = Ps ? Ps : bwd_lanes(s->chunk);
    ScanArgs a = make_args(s, P);
    const int64_t K = tc ? (s->L + tc - 1) / tc : 1; // rows of the dA, dD, ddelta_bias partials
    a.tchunk = tc;
    a.n_tchunks = K;
    a.du = du;
    a.ddelta = ddelta;
    a.dz = dz;
    a.dout = dout;
    a.chunk_states = (void *)chunk_states;
    a.u = u;
    a.delta = delta;
    a.A = A;
    a.Bm = Bm;
    a.Cm = Cm;
    a.Dskip = Dskip;
    a.z = z;
    a.delta_bias = delta_bias;
    a.ws_bc = workspace;
    a.ws_dA = workspace + 2 * a.B * a.G * a.nblk * a.N * a.L;
    a.ws_dD = a.ws_dA + K * a.B * a.D * a.N;
    a.ws_ddb = a.ws_dD + K * a.B * a.D;
    float *carry_E = a.ws_ddb + K * a.B * a.D, *carry_P = carry_E + K * a.B * a.D * a.N;
    ssm_code rc;
    switch (tc ? 0 : Ps ? 10 + Ps : P) {
    case 0: rc = scan_chunked_backward<T>(a, Ps, carry_E, carry_P); break;
    case 11: rc = launch_bwd_split<T, 1>(a); break;
    case 12: rc = launch_bwd_split<T, 2>(a); break;
    case 14: rc = launch_bwd_split<T, 4>(a); break;
    case 18: rc = launch_bwd_split<T, 8>(a); break;
    case 1: rc = launch_bwd<T, 1>(a); break;
    case 2: rc = launch_bwd<T, 2>(a); break;
    default: rc = launch_bwd<T, 4>(a); break;
    }
    SSM_TRY(rc);
    if (dBm || dCm) {
        const int64_t total = a.B * a.G * a.N * a.L;
        dim3 grid((unsigned)std::min<int64_t>((total + 255) / 256, 65535 * 8), 2);
        scan_reduce_bc_kernel<<<grid, 256, 0, ssm_cuda_stream()>>>(dBm, dCm, a.ws_bc, a.B * a.G,
                                                                   a.nblk, a.N * a.L);
        CUDA_LAUNCH_CHECK("scan_reduce_bc_kernel");
    }
    if (dA || dDskip || ddelta_bias) {
        const int64_t total = a.D * a.N;
        scan_reduce_batch_kernel<<<(unsigned)((total + 255) / 256), 256, 0, ssm_cuda_stream()>>>(
            dA, dDskip, ddelta_bias, a.ws_dA, a.ws_dD, a.ws_ddb, K * a.B, a.D, a.N);
        CUDA_LAUNCH_CHECK("scan_reduce_batch_kernel");
    }
    return SSM_OK;
}

extern "C" ssm_code selective_scan_forward_cuda(real *out, real *last_state, real *chunk_states,
                                                const real *u, const real *delta, const real *A,
                                                const real *Bm, const real *Cm,
                                                const real *Dskip, const real *z,
                                                const real *delta_bias, const scan_shape *s) {
    static_assert(sizeof(real) == sizeof(float), "the CUDA twins are built with real = float");
    return scan_forward<float>(out, last_state, chunk_states, u, delta, A, Bm, Cm, Dskip, z,
                               delta_bias, s, "selective_scan_forward_cuda");
}

extern "C" ssm_code selective_scan_backward_cuda(
    real *du, real *ddelta, real *dA, real *dBm, real *dCm, real *dDskip, real *dz,
    real *ddelta_bias, const real *dout, const real *chunk_states, const real *u,
    const real *delta, const real *A, const real *Bm, const real *Cm, const real *Dskip,
    const real *z, const real *delta_bias, real *workspace, const scan_shape *s) {
    return scan_backward<float>(du, ddelta, dA, dBm, dCm, dDskip, dz, ddelta_bias, dout,
                                chunk_states, u, delta, A, Bm, Cm, Dskip, z, delta_bias,
                                workspace, s, "selective_scan_backward_cuda");
}

extern "C" ssm_code selective_scan_forward_bf16(ssm_bf16 *out, float *last_state,
                                                float *chunk_states, const ssm_bf16 *u,
                                                const ssm_bf16 *delta, const float *A,
                                                const ssm_bf16 *Bm, const ssm_bf16 *Cm,
                                                const float *Dskip, const ssm_bf16 *z,
                                                const float *delta_bias, const scan_shape *s) {
    return scan_forward<__nv_bfloat16>(out, last_state, chunk_states, u, delta, A, Bm, Cm, Dskip,
                                       z, delta_bias, s, "selective_scan_forward_bf16");
}

extern "C" ssm_code selective_scan_backward_bf16(
    ssm_bf16 *du, ssm_bf16 *ddelta, float *dA, float *dBm, float *dCm, float *dDskip,
    ssm_bf16 *dz, float *ddelta_bias, const ssm_bf16 *dout, const float *chunk_states,
    const ssm_bf16 *u, const ssm_bf16 *delta, const float *A, const ssm_bf16 *Bm,
    const ssm_bf16 *Cm, const float *Dskip, const ssm_bf16 *z, const float *delta_bias,
    float *workspace, const scan_shape *s) {
    return scan_backward<__nv_bfloat16>(du, ddelta, dA, dBm, dCm, dDskip, dz, ddelta_bias, dout,
                                        chunk_states, u, delta, A, Bm, Cm, Dskip, z, delta_bias,
                                        workspace, s, "selective_scan_backward_bf16");
}
