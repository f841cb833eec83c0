// defines: bag_tanh_sigmoid_cuda, bag_attn_score_cuda, bag_softmax_cuda, bag_segsum_cuda,
//          bag_segsum_scratch, bag_max_pool_cuda, bag_cls_pool_cuda, bag_attn_dscore_cuda,
//          bag_pool_backward_cuda, bag_attn_dpre_cuda
// Device kernels of the bag head (tasks/head_bag.c, built with CUDA=1) over a packed token
// row: `off` [nb + 1] are the bags' token offsets on the device (the head's packing's
// d_offsets). Every reduction runs in a fixed order (shuffle trees, chunked sums added in
// chunk order), so a run gives the same bits every time; no atomics.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// A = tanh(A) [n]; G = sigmoid(G) [n] when G is not NULL (in place).
ssm_code bag_tanh_sigmoid_cuda(real *A, real *G, int64_t n);
// score [T] = sum_j w[j] A[t, j] (G[t, j], when G), A, G [T, H].
ssm_code bag_attn_score_cuda(real *score, const real *A, const real *G, const real *w, int64_t T,
                             int64_t H);
// attn = softmax of score within each bag (max subtracted).
ssm_code bag_softmax_cuda(real *attn, const real *score, const int64_t *off, int64_t nb);
// Chunks of tokens the segment sums use, and the scratch they need: partial [max_chunks *
// C] reals and chunk_start [nb_max + 1] int64, max_chunks = bag_segsum_scratch(T_max, nb_max).
int64_t bag_segsum_scratch(int64_t T_max, int64_t nb_max);
// out [nseg, C] (=, or += when accumulate) = per segment sum_t wt[t] X[t, :] (* Y[t, :] when
// Y); wt NULL: the mean over the segment. off NULL: one segment [0, T). T <= T_max of the
// scratch.
ssm_code bag_segsum_cuda(real *out, const real *X, const real *Y, const real *wt,
                         const int64_t *off, int64_t nseg, int64_t T, int64_t C, int accumulate,
                         real *partial, int64_t *chunk_start, int64_t max_chunks);
// pooled [nb, D] = max over each bag's tokens of feats [T, D]; argmax [nb, D] the first
// token (absolute) that holds it.
ssm_code bag_max_pool_cuda(real *pooled, int64_t *argmax, const real *feats, const int64_t *off,
                           int64_t nb, int64_t D);
// pooled [nb, D] = each bag's first token.
ssm_code bag_cls_pool_cuda(real *pooled, const real *feats, const int64_t *off, int64_t nb,
                           int64_t D);
// ds [T] = attn_t (da_t - sum over the bag of attn da), da_t = feats[t] . dz[bag] [D].
ssm_code bag_attn_dscore_cuda(real *ds, const real *attn, const real *feats, const real *dz,
                              const int64_t *off, int64_t nb, int64_t D);
// dfeats [T, D] += the pooling's transpose applied to dz [nb, D]: mode 0 weights wt [T]
// (attention), 1 the mean, 2 the class token (first token), 3 the max (argmax [nb, D]).
ssm_code bag_pool_backward_cuda(real *dfeats, const real *dz, const real *wt,
                                const int64_t *argmax, const int64_t *off, int64_t nb, int64_t T,
                                int64_t D, int mode);
// In place, from A = tanh(.), G = sigmoid(.) (G NULL: no gate) and ds [T], w [H]:
// dP = ds_t w_j; A <- dP (G) (1 - A^2), G <- dP A G (1 - G): the pre-activations' gradients.
ssm_code bag_attn_dpre_cuda(real *A, real *G, const real *ds, const real *w, int64_t T,
                            int64_t H);

#ifdef __cplusplus
}
#endif
