// defines: point_groups_take, point_groups_group, point_groups_embed,
//          point_groups_embed_backward (see point_groups.h)
// The point_groups adapter's CPU steps: grouping (FPS + kNN) and the mini-PointNet with
// its positional MLP, forward and backward, over raw arrays (llm.c style).
#include <math.h>
#include <string.h>

#include "adapters/point_groups.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/pointops.h"

#define TAKE(ptr, count) ((ptr) = ssm_arena_take(arena, (size_t)(count) * sizeof *(ptr)))

void point_groups_take(point_groups *pg, ssm_arena *arena, int64_t B_max, int64_t D) {
    int64_t BG = B_max * pg->G, R = BG * pg->k;
    TAKE(pg->fps_d, B_max * pg->N);
    TAKE(pg->cidx, BG);
    TAKE(pg->centres, BG * 3);
    TAKE(pg->nidx, R);
    TAKE(pg->kd, R);
    TAKE(pg->pin, R * pg->C);
    TAKE(pg->h1, R * PG_H1);
    TAKE(pg->a1, R * PG_H1);
    TAKE(pg->mu1, R);
    TAKE(pg->rs1, R);
    TAKE(pg->f2, R * PG_H2);
    TAKE(pg->fg, BG * PG_H2);
    TAKE(pg->am2, BG * PG_H2);
    TAKE(pg->w3g, PG_H3 * PG_H2);
    TAKE(pg->w3l, PG_H3 * PG_H2);
    TAKE(pg->hg, BG * PG_H3);
    TAKE(pg->h3, R * PG_H3);
    TAKE(pg->a3, R * PG_H3);
    TAKE(pg->mu3, R);
    TAKE(pg->rs3, R);
    TAKE(pg->f4, R * D);
    TAKE(pg->tok, BG * D);
    TAKE(pg->am4, BG * D);
    TAKE(pg->pp, BG * PG_PH);
    TAKE(pg->pa, BG * PG_PH);
    TAKE(pg->d512, R * PG_H3);
    TAKE(pg->dw3, PG_H3 * PG_H2);
}

void point_groups_group(point_groups *pg, const real *x, int64_t B) {
    const int64_t N = pg->N, C = pg->C, G = pg->G, k = pg->k;
    fps_forward(pg->cidx, pg->fps_d, x, B, N, G, C);
#pragma omp parallel for schedule(static)
    for (int64_t bg = 0; bg < B * G; bg++)
        memcpy(pg->centres + bg * 3, x + (bg / G * N + pg->cidx[bg]) * C, 3 * sizeof(real));
    knn_forward(pg->nidx, pg->kd, pg->centres, 3, x, C, B, G, N, k);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B * G * k; r++) {
        int64_t bg = r / k;
        const real *src = x + (bg / G * N + pg->nidx[r]) * C, *c = pg->centres + bg * 3;
        real *dst = pg->pin + r * C;
        for (int64_t j = 0; j < C; j++)
            dst[j] = j < 3 ? src[j] - c[j] : src[j];
    }
}

static void relu_inplace(real *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] : 0;
}

// out [BG, Ch] = max over the k rows of each group of in [BG * k, Ch]; am: the row.
static void maxpool(real *out, int32_t *am, const real *in, int64_t BG, int64_t k, int64_t Ch) {
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < BG; g++) {
        const real *row = in + g * k * Ch;
        real *o = out + g * Ch;
        int32_t *a = am + g * Ch;
        for (int64_t c = 0; c < Ch; c++) {
            o[c] = row[c];
            a[c] = 0;
        }
        for (int64_t j = 1; j < k; j++)
            for (int64_t c = 0; c < Ch; c++)
                if (row[j * Ch + c] > o[c]) {
                    o[c] = row[j * Ch + c];
                    a[c] = (int32_t)j;
                }
    }
}

// din [BG * k, Ch] (zeroed by the caller) gets dout [BG, Ch] at the max rows.
static void maxpool_backward(real *din, const real *dout, const int32_t *am, int64_t BG,
                             int64_t k, int64_t Ch) {
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < BG; g++)
        for (int64_t c = 0; c < Ch; c++)
            din[(g * k + am[g * Ch + c]) * Ch + c] += dout[g * Ch + c];
}

static inline double gelu(double v) { return 0.5 * v * (1 + erf(v * M_SQRT1_2)); }
static inline double gelu_grad(double v) { // Phi(v) + v phi(v)
    return 0.5 * (1 + erf(v * M_SQRT1_2)) + v * exp(-0.5 * v * v) * 0.3989422804014327;
}

void point_groups_embed(point_groups *pg, const ssm_params *p, real *tokens, int64_t D,
                        int64_t B) {
    const int64_t G = pg->G, k = pg->k, BG = B * G, R = BG * k;
    linear_forward(pg->h1, pg->pin, ssm_params_data(p, pg->w1), ssm_params_data(p, pg->b1), R,
                   pg->C, PG_H1);
    layernorm_forward(pg->a1, pg->mu1, pg->rs1, pg->h1, ssm_params_data(p, pg->g1),
                      ssm_params_data(p, pg->be1), R, PG_H1, PG_LN_EPS);
    relu_inplace(pg->a1, R * PG_H1);
    linear_forward(pg->f2, pg->a1, ssm_params_data(p, pg->w2), ssm_params_data(p, pg->b2), R,
                   PG_H1, PG_H2);
    maxpool(pg->fg, pg->am2, pg->f2, BG, k, PG_H2);
    const real *w3 = ssm_params_data(p, pg->w3); // [512, 512]: columns 0..255 global
    for (int64_t o = 0; o < PG_H3; o++) {
        memcpy(pg->w3g + o * PG_H2, w3 + o * 2 * PG_H2, PG_H2 * sizeof(real));
        memcpy(pg->w3l + o * PG_H2, w3 + o * 2 * PG_H2 + PG_H2, PG_H2 * sizeof(real));
    }
    linear_forward(pg->hg, pg->fg, pg->w3g, ssm_params_data(p, pg->b3), BG, PG_H2, PG_H3);
    linear_forward(pg->h3, pg->f2, pg->w3l, NULL, R, PG_H2, PG_H3);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++) {
        real *h = pg->h3 + r * PG_H3;
        const real *g = pg->hg + r / k * PG_H3;
        for (int64_t c = 0; c < PG_H3; c++)
            h[c] += g[c];
    }
    layernorm_forward(pg->a3, pg->mu3, pg->rs3, pg->h3, ssm_params_data(p, pg->g3),
                      ssm_params_data(p, pg->be3), R, PG_H3, PG_LN_EPS);
    relu_inplace(pg->a3, R * PG_H3);
    linear_forward(pg->f4, pg->a3, ssm_params_data(p, pg->w4), ssm_params_data(p, pg->b4), R,
                   PG_H3, D);
    maxpool(pg->tok, pg->am4, pg->f4, BG, k, D);
    linear_forward(pg->pp, pg->centres, ssm_params_data(p, pg->pw1), ssm_params_data(p, pg->pb1),
                   BG, 3, PG_PH);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < BG * PG_PH; i++)
        pg->pa[i] = (real)gelu(pg->pp[i]);
    if (!tokens)
        return;
    linear_forward(tokens, pg->pa, ssm_params_data(p, pg->pw2), ssm_params_data(p, pg->pb2), BG,
                   PG_PH, D);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < BG * D; i++)
        tokens[i] += pg->tok[i];
}

// The gradient of one half of second_conv.0.weight (dw [512, 256]) into its columns.
static void add_half(real *dw3, const real *dw, int half) {
    for (int64_t o = 0; o < PG_H3; o++)
        for (int64_t c = 0; c < PG_H2; c++)
            dw3[o * 2 * PG_H2 + half * PG_H2 + c] += dw[o * PG_H2 + c];
}

void point_groups_embed_backward(point_groups *pg, ssm_params *p, const real *dtokens,
                                 int64_t D, int64_t B) {
    const int64_t G = pg->G, k = pg->k, BG = B * G, R = BG * k;
    // positional MLP: dpa [BG, 128] in d512
    real *dpa = pg->d512;
    memset(dpa, 0, (size_t)(BG * PG_PH) * sizeof *dpa);
    linear_backward(dpa, ssm_params_grad(p, pg->pw2), ssm_params_grad(p, pg->pb2), dtokens,
                    pg->pa, ssm_params_data(p, pg->pw2), BG, PG_PH, D);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < BG * PG_PH; i++)
        dpa[i] = (real)(dpa[i] * gelu_grad(pg->pp[i]));
    linear_backward(NULL, ssm_params_grad(p, pg->pw1), ssm_params_grad(p, pg->pb1), dpa,
                    pg->centres, ssm_params_data(p, pg->pw1), BG, 3, PG_PH);
    // token max-pool -> df4 (in f4) -> second_conv.3 -> da3 (d512)
    real *df4 = pg->f4, *da3 = pg->d512;
    memset(df4, 0, (size_t)(R * D) * sizeof *df4);
    maxpool_backward(df4, dtokens, pg->am4, BG, k, D);
    memset(da3, 0, (size_t)(R * PG_H3) * sizeof *da3);
    linear_backward(da3, ssm_params_grad(p, pg->w4), ssm_params_grad(p, pg->b4), df4, pg->a3,
                    ssm_params_data(p, pg->w4), R, PG_H3, D);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < R * PG_H3; i++)
        da3[i] = pg->a3[i] > 0 ? da3[i] : 0;
    real *dh3 = pg->a3; // LayerNorm's input gradient accumulates: a zeroed buffer
    memset(dh3, 0, (size_t)(R * PG_H3) * sizeof *dh3);
    layernorm_backward(dh3, ssm_params_grad(p, pg->g3), ssm_params_grad(p, pg->be3), da3, pg->h3,
                       ssm_params_data(p, pg->g3), pg->mu3, pg->rs3, R, PG_H3);
    // second_conv.0, local half: df2 [R, 256] in d512
    real *df2 = pg->d512, *dw3 = ssm_params_grad(p, pg->w3);
    memset(df2, 0, (size_t)(R * PG_H2) * sizeof *df2);
    memset(pg->dw3, 0, PG_H3 * PG_H2 * sizeof(real));
    linear_backward(df2, pg->dw3, NULL, dh3, pg->f2, pg->w3l, R, PG_H2, PG_H3);
    add_half(dw3, pg->dw3, 1);
    // global half: dhg [BG, 512] = the group's sum of dh3 (in hg); dfg [BG, 256] in h3
    real *dhg = pg->hg, *dfg = pg->h3;
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < BG; g++) {
        real *o = dhg + g * PG_H3;
        memset(o, 0, PG_H3 * sizeof *o);
        for (int64_t j = 0; j < k; j++)
            for (int64_t c = 0; c < PG_H3; c++)
                o[c] += dh3[(g * k + j) * PG_H3 + c];
    }
    memset(dfg, 0, (size_t)(BG * PG_H2) * sizeof *dfg);
    memset(pg->dw3, 0, PG_H3 * PG_H2 * sizeof(real));
    linear_backward(dfg, pg->dw3, ssm_params_grad(p, pg->b3), dhg, pg->fg, pg->w3g, BG, PG_H2,
                    PG_H3);
    add_half(dw3, pg->dw3, 0);
    maxpool_backward(df2, dfg, pg->am2, BG, k, PG_H2);
    // first_conv.3 -> da1 [R, 128] in h3 after dfg's R * 256 reals (dfg holds BG * 256)
    real *da1 = pg->h3 + R * PG_H2;
    memset(da1, 0, (size_t)(R * PG_H1) * sizeof *da1);
    linear_backward(da1, ssm_params_grad(p, pg->w2), ssm_params_grad(p, pg->b2), df2, pg->a1,
                    ssm_params_data(p, pg->w2), R, PG_H1, PG_H2);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < R * PG_H1; i++)
        da1[i] = pg->a1[i] > 0 ? da1[i] : 0;
    real *dh1 = pg->a1;
    memset(dh1, 0, (size_t)(R * PG_H1) * sizeof *dh1);
    layernorm_backward(dh1, ssm_params_grad(p, pg->g1), ssm_params_grad(p, pg->be1), da1, pg->h1,
                       ssm_params_data(p, pg->g1), pg->mu1, pg->rs1, R, PG_H1);
    linear_backward(NULL, ssm_params_grad(p, pg->w1), ssm_params_grad(p, pg->b1), dh1, pg->pin,
                    ssm_params_data(p, pg->w1), R, pg->C, PG_H1);
}
