// defines: mamba_prompt_extend, mamba_prompt_write, mamba_prompt_backward,
//          mamba_prompt_tokens_in, mamba_prompt_tokens_out
// Point Cloud Mamba's order prompts on the CPU (backbone/mamba.h, "Order prompts"): one
// sequence inside the stack is P prompt slots, then the caller's L_tok tokens, and every
// branch of every layer reads the slots first (in slot order), then the tokens in its order.
//
// PCM (openpoints/models/PCM/PCM.py) concatenates [prompts, x, prompts] before each layer
// and cuts both copies off after it. Its scans are causal, so in each direction only the
// copy read first reaches the tokens (the other is read after the last token, and its
// outputs are cut): the forward scan reads p_0 .. p_{P-1} first, its bimamba "v2" reverse
// scan p_{P-1} .. p_0. Here every scan reads p_0 .. p_{P-1} first (the caller's orders are
// arbitrary permutations; which of them is "a reverse" is not the stack's to know), so a
// reverse branch differs from PCM's in the order it reads the prompt rows, and the slot
// copy read last is not kept. The slots stay in the residual stream and are overwritten
// before each layer, which is PCM's concatenate-and-cut (what a layer leaves in them is
// never read). PCM's per-stage projection of the prompts (a bias-free Linear to the
// stage's width) is not kept: with one width it is a reparametrisation of the prompts.
#include <string.h>

#include "backbone/mamba_internal.h"

void mamba_prompt_extend(const mamba_stack *s, int32_t *ext, const mamba_orders *o, int64_t B) {
    const int64_t P = s->n_prompt, Lt = s->L_tok, L = s->L;
    for (int64_t r = 0; r < o->count * B; r++) {
        const int32_t *src = o->perm + r * Lt;
        int32_t *dst = ext + r * L;
        for (int64_t j = 0; j < P; j++)
            dst[j] = (int32_t)j;
        for (int64_t l = 0; l < Lt; l++)
            dst[P + l] = (int32_t)(P + src[l]);
    }
}

void mamba_prompt_write(const mamba_stack *s, const ssm_params *p, real *res, int64_t order,
                        int64_t B) {
    const int64_t P = s->n_prompt, D = s->D, L = s->L;
    const real *w = ssm_params_data(p, s->prompt_w) + order * P * D;
    for (int64_t b = 0; b < B; b++)
        memcpy(res + b * L * D, w, (size_t)(P * D) * sizeof(real));
}

void mamba_prompt_backward(const mamba_stack *s, ssm_params *p, real *dres, int64_t order,
                           int64_t B) {
    const int64_t P = s->n_prompt, D = s->D, L = s->L;
    real *g = ssm_params_grad(p, s->prompt_w) + order * P * D;
    for (int64_t b = 0; b < B; b++) {
        real *slot = dres + b * L * D;
        for (int64_t i = 0; i < P * D; i++)
            g[i] += slot[i];
        memset(slot, 0, (size_t)(P * D) * sizeof(real));
    }
}

void mamba_prompt_tokens_in(const mamba_stack *s, real *inner, const real *outer, int64_t B) {
    const int64_t P = s->n_prompt, D = s->D, L = s->L, Lt = s->L_tok;
    for (int64_t b = 0; b < B; b++)
        memcpy(inner + (b * L + P) * D, outer + b * Lt * D, (size_t)(Lt * D) * sizeof(real));
}

void mamba_prompt_tokens_out(const mamba_stack *s, real *outer, const real *inner, int64_t B,
                             int accumulate) {
    const int64_t P = s->n_prompt, D = s->D, L = s->L, Lt = s->L_tok;
    for (int64_t b = 0; b < B; b++) {
        const real *src = inner + (b * L + P) * D;
        real *dst = outer + b * Lt * D;
        if (!accumulate) {
            memcpy(dst, src, (size_t)(Lt * D) * sizeof(real));
            continue;
        }
        for (int64_t i = 0; i < Lt * D; i++)
            dst[i] += src[i];
    }
}
