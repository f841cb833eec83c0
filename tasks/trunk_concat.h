// defines: trunk_concat_inverse, trunk_concat_gather, trunk_concat_merge,
//          trunk_concat_merge_backward, trunk_concat_gather_backward, trunk_concat_orders
// The concatenation of scan orders (the trunk's order_layout concat, tasks/trunk.h), as
// PointMamba lays its Hilbert and trans-Hilbert serialisations end to end: each of the N
// sequences of L tokens is read in each of its O orders, every order's copy scaled and
// shifted by that order's learned "order indicator" (gamma_o, beta_o), and the O copies
// laid end to end as one sequence of O*L tokens for the backbone; afterwards each token's
// O outputs (one per copy) are averaged back onto the token. CPU reference over raw
// arrays; the CUDA twins are tasks/cuda/trunk_concat.h. perm [O, N, L] is the adapter's
// orders (perm[o][n][l] = the token read at step l), inv [O, N, L] their inverses.
// Sums over the orders run o = 0, 1, ..., as the device's do.
#pragma once
#include <stdint.h>

#include "core/real.h"

// inv[o][n][perm[o][n][l]] = l.
void trunk_concat_inverse(int32_t *inv, const int32_t *perm, int O, int64_t N, int64_t L);

// seq [N, O*L, D]: seq[n][o*L + l] = tokens[n][perm[o][n][l]] * gamma[o] + beta[o]
// (gamma, beta [O, D], per channel).
void trunk_concat_gather(real *seq, const real *tokens, const int32_t *perm, const real *gamma,
                         const real *beta, int O, int64_t N, int64_t L, int64_t D);

// feats [N, L, D]: feats[n][g] = (1/O) sum_o out[n][o*L + inv[o][n][g]].
void trunk_concat_merge(real *feats, const real *out, const int32_t *inv, int O, int64_t N,
                        int64_t L, int64_t D);

// The merge's backward: dout [N, O*L, D] = dfeats[n][perm[o][n][l]] / O (overwritten).
void trunk_concat_merge_backward(real *dout, const real *dfeats, const int32_t *perm, int O,
                                 int64_t N, int64_t L, int64_t D);

// The gather's backward, accumulating (+=): dtokens [N, L, D] gets
// sum_o dseq[n][o*L + inv[o][n][g]] * gamma[o]; dgamma, dbeta [O, D] get the sums over
// every n and l of dseq * tokens (read in order o) and of dseq.
void trunk_concat_gather_backward(real *dtokens, real *dgamma, real *dbeta, const real *dseq,
                                  const real *tokens, const int32_t *perm, const int32_t *inv,
                                  const real *gamma, int O, int64_t N, int64_t L, int64_t D);

// The backbone's orders over the long sequences, perm [K, N, Lc]: k = 0 the identity, k = 1
// the reverse (K is 1 or 2).
void trunk_concat_orders(int32_t *perm, int K, int64_t N, int64_t Lc);
