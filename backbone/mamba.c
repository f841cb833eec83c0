// defines: mamba_config_defaults, mamba_stack_declare, mamba_stack_init_params,
//          mamba_stack_plan, mamba_stack_free, mamba_stack_get_config,
//          mamba_orders_check, mamba_order_identity, mamba_order_reverse,
//          mamba_orders_check_packed, mamba_order_identity_packed, mamba_order_reverse_packed,
//          mamba_stack_set_dropout
// Building the backbone: its parameter table (mamba_ssm / Vim names), its
// initialisation (mamba_ssm's, value for value in distribution), and the
// activation plan. The passes themselves are in stack.c and mixer.c.
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba_internal.h"
#include "kernels/scan.h"

void mamba_config_defaults(mamba_config *c) {
    memset(c, 0, sizeof *c);
    c->d_model = 192;
    c->n_layers = 1;
    c->d_state = 16;
    c->d_conv = 4;
    c->expand = 2;
    c->dt_rank = 0;
    c->dt_min = 1e-3;
    c->dt_max = 1e-1;
    c->dt_init_floor = 1e-4;
    c->norm = MAMBA_NORM_RMS;
    c->norm_eps = 1e-5;
    c->n_branches = 1;
    c->merge = MAMBA_MERGE_MEAN;
    c->scan_chunk = 64;
    c->final_norm = 1;
}

const mamba_config *mamba_stack_get_config(const mamba_stack *s) { return &s->cfg; }

void mamba_stack_set_dropout(mamba_stack *s, ssm_dropout_step st, int64_t seqs_per_sample) {
    s->drop = st;
    s->drop_seqs = seqs_per_sample > 0 ? seqs_per_sample : 1;
}

// Branch 0 has mamba_ssm's names, branch 1 Vim's "_b", branch k >= 2 "_c{k}".
static void branch_suffix(char *buf, size_t n, int k) {
    if (k == 0)
        buf[0] = 0;
    else if (k == 1)
        snprintf(buf, n, "_b");
    else
        snprintf(buf, n, "_c%d", k);
}

static ssm_code add(ssm_params *p, size_t *idx, unsigned flags, int ndim, const int64_t *shape,
                    ssm_error *err, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static ssm_code add(ssm_params *p, size_t *idx, unsigned flags, int ndim, const int64_t *shape,
                    ssm_error *err, const char *fmt, ...) {
    char name[SSM_PARAM_NAME_MAX + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ssm_params_add(p, name, ndim, shape, flags, idx, err);
}

static ssm_code check_config(const mamba_config *c, ssm_error *err) {
    if (c->d_model <= 0 || c->n_layers <= 0 || c->d_state <= 0 || c->d_conv <= 0 || c->expand <= 0)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: d_model %lld, n_layers %lld, d_state %lld, d_conv %lld, expand "
                        "%lld: each must be > 0",
                        (long long)c->d_model, (long long)c->n_layers, (long long)c->d_state,
                        (long long)c->d_conv, (long long)c->expand);
    if (c->dt_rank < 0)
        return ssm_fail(err, SSM_EINVAL, "mamba: dt_rank %lld, expected >= 0 (0 = ceil(d_model/16))",
                        (long long)c->dt_rank);
    if (c->n_branches < 1 || c->n_branches > MAMBA_MAX_BRANCHES)
        return ssm_fail(err, SSM_EINVAL, "mamba: n_branches %d, expected 1..%d", c->n_branches,
                        MAMBA_MAX_BRANCHES);
    if (!(c->dt_min > 0 && c->dt_min <= c->dt_max && c->dt_init_floor > 0))
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: dt_min %g, dt_max %g, dt_init_floor %g: expected 0 < dt_min <= "
                        "dt_max and floor > 0",
                        c->dt_min, c->dt_max, c->dt_init_floor);
    if (c->norm != MAMBA_NORM_RMS && c->norm != MAMBA_NORM_LAYER)
        return ssm_fail(err, SSM_EINVAL, "mamba: unknown norm kind %d", (int)c->norm);
    if (c->merge != MAMBA_MERGE_MEAN && c->merge != MAMBA_MERGE_SUM)
        return ssm_fail(err, SSM_EINVAL, "mamba: unknown merge kind %d", (int)c->merge);
    if (!(c->norm_eps > 0))
        return ssm_fail(err, SSM_EINVAL, "mamba: norm_eps %g, expected > 0", c->norm_eps);
    if (c->scan_chunk < 1)
        return ssm_fail(err, SSM_EINVAL, "mamba: scan_chunk %lld, expected >= 1",
                        (long long)c->scan_chunk);
    if (c->ffn_dim < 0)
        return ssm_fail(err, SSM_EINVAL, "mamba: ffn_dim %lld, expected >= 0 (0 = no FFN)",
                        (long long)c->ffn_dim);
    if (c->norm_position != MAMBA_PRE_NORM && c->norm_position != MAMBA_POST_NORM)
        return ssm_fail(err, SSM_EINVAL, "mamba: unknown norm position %d", (int)c->norm_position);
    if (!(c->dropout >= 0 && c->dropout < 1) || !(c->mixer_dropout >= 0 && c->mixer_dropout < 1))
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: dropout %g, mixer_dropout %g: each must be a probability in "
                        "[0, 1)", c->dropout, c->mixer_dropout);
    if (c->dropout > 0 && c->ffn_dim == 0)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: dropout %g acts in the FFN, and ffn_dim is 0 (no FFN): set "
                        "ffn_dim, or mixer_dropout for the mixer's output", c->dropout);
    if (c->order_prompts < 0 || c->order_prompts > 1024)
        return ssm_fail(err, SSM_EINVAL, "mamba: order_prompts %lld, expected 0 (none) .. 1024",
                        (long long)c->order_prompts);
    if (c->order_prompts > 0 && (c->prompt_orders < 1 || c->prompt_orders > 1024))
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: order_prompts %lld needs prompt_orders (the orders that get "
                        "prompts) in 1..1024, got %lld",
                        (long long)c->order_prompts, (long long)c->prompt_orders);
    return SSM_OK;
}

ssm_code mamba_stack_declare(mamba_stack **out, const mamba_config *cfg, ssm_params *p,
                             const char *prefix, ssm_error *err) {
    *out = NULL;
    SSM_TRY(check_config(cfg, err));
    if (!prefix)
        prefix = "";
    mamba_stack *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "mamba: out of memory");
    s->cfg = *cfg;
    if (s->cfg.dt_rank == 0)
        s->cfg.dt_rank = (cfg->d_model + 15) / 16; // mamba_ssm: math.ceil(d_model / 16)
    s->D = cfg->d_model;
    s->E = cfg->expand * cfg->d_model;
    s->N = cfg->d_state;
    s->R = s->cfg.dt_rank;
    s->P = s->R + 2 * s->N;
    s->dc = cfg->d_conv;
    s->K = cfg->n_branches;
    s->n_layers = cfg->n_layers;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    s->lp = calloc((size_t)s->n_layers, sizeof *s->lp);
    s->acts = calloc((size_t)s->n_layers, sizeof *s->acts);
    if (!s->lp || !s->acts) {
        mamba_stack_free(s);
        return ssm_fail(err, SSM_ENOMEM, "mamba: out of memory");
    }
    const int64_t D = s->D, E = s->E, N = s->N, R = s->R, P = s->P, dc = s->dc, F = cfg->ffn_dim;
    const int layer_norm = cfg->norm == MAMBA_NORM_LAYER;
    const unsigned ND = SSM_PARAM_NO_DECAY;
    ssm_code rc = SSM_OK;
#define ADD(idx, flags, ndim, shape, ...)                                                    \
    do {                                                                                      \
        rc = add(p, idx, flags, ndim, (const int64_t[])shape, err, __VA_ARGS__);              \
        if (rc != SSM_OK)                                                                     \
            goto fail;                                                                        \
    } while (0)
#define SHAPE(...) {__VA_ARGS__}
    for (int64_t i = 0; i < s->n_layers; i++) {
        mamba_layer_params *l = &s->lp[i];
        const char *pf = prefix;
        long long li = (long long)i;
        ADD(&l->in_w, 0, 2, SHAPE(2 * E, D), "%slayers.%lld.mixer.in_proj.weight", pf, li);
        for (int k = 0; k < s->K; k++) {
            mamba_branch_params *b = &l->br[k];
            char sf[16];
            branch_suffix(sf, sizeof sf, k);
            ADD(&b->conv_w, 0, 3, SHAPE(E, 1, dc), "%slayers.%lld.mixer.conv1d%s.weight", pf, li, sf);
            ADD(&b->conv_b, ND, 1, SHAPE(E), "%slayers.%lld.mixer.conv1d%s.bias", pf, li, sf);
            ADD(&b->xproj_w, 0, 2, SHAPE(P, E), "%slayers.%lld.mixer.x_proj%s.weight", pf, li, sf);
            ADD(&b->dt_w, 0, 2, SHAPE(E, R), "%slayers.%lld.mixer.dt_proj%s.weight", pf, li, sf);
            ADD(&b->dt_b, ND, 1, SHAPE(E), "%slayers.%lld.mixer.dt_proj%s.bias", pf, li, sf);
            ADD(&b->A_log, ND, 2, SHAPE(E, N), "%slayers.%lld.mixer.A%s_log", pf, li, sf);
            ADD(&b->D, ND, 1, SHAPE(E), "%slayers.%lld.mixer.D%s", pf, li, sf);
        }
        ADD(&l->out_w, 0, 2, SHAPE(D, E), "%slayers.%lld.mixer.out_proj.weight", pf, li);
        ADD(&l->norm_w, ND, 1, SHAPE(D), "%slayers.%lld.norm.weight", pf, li);
        l->norm_b = SIZE_MAX;
        if (layer_norm)
            ADD(&l->norm_b, ND, 1, SHAPE(D), "%slayers.%lld.norm.bias", pf, li);
        l->norm2_w = l->norm2_b = l->fc1_w = l->fc1_b = l->fc2_w = l->fc2_b = SIZE_MAX;
        if (F > 0) {
            ADD(&l->fc1_w, 0, 2, SHAPE(F, D), "%slayers.%lld.ffn.fc1.weight", pf, li);
            ADD(&l->fc1_b, ND, 1, SHAPE(F), "%slayers.%lld.ffn.fc1.bias", pf, li);
            ADD(&l->fc2_w, 0, 2, SHAPE(D, F), "%slayers.%lld.ffn.fc2.weight", pf, li);
            ADD(&l->fc2_b, ND, 1, SHAPE(D), "%slayers.%lld.ffn.fc2.bias", pf, li);
            ADD(&l->norm2_w, ND, 1, SHAPE(D), "%slayers.%lld.norm2.weight", pf, li);
            if (layer_norm)
                ADD(&l->norm2_b, ND, 1, SHAPE(D), "%slayers.%lld.norm2.bias", pf, li);
        }
    }
    ADD(&s->normf_w, ND, 1, SHAPE(D), "%snorm_f.weight", prefix);
    s->normf_b = SIZE_MAX;
    if (layer_norm)
        ADD(&s->normf_b, ND, 1, SHAPE(D), "%snorm_f.bias", prefix);
    // PCM's order prompts last, so a table without them is unchanged (mamba.h)
    s->n_prompt = cfg->order_prompts;
    s->prompt_w = SIZE_MAX;
    if (s->n_prompt > 0)
        ADD(&s->prompt_w, ND, 2, SHAPE(cfg->prompt_orders * s->n_prompt, D), "%sorder_prompt.weight",
            prefix);
#undef ADD
#undef SHAPE
    // A layer's mixer tensors are declared in one run (in_proj first, out_proj
    // last), so their gradients are one contiguous span of the flat table: the
    // mixer's per-thread gradient slots mirror it (same span in every layer).
    s->gspan = p->items[s->lp[0].out_w].offset + p->items[s->lp[0].out_w].numel -
               p->items[s->lp[0].in_w].offset;
    *out = s;
    return SSM_OK;
fail:
    mamba_stack_free(s);
    return rc;
}

static void fill_uniform(real *x, size_t n, double bound, ssm_rng *rng) {
    for (size_t i = 0; i < n; i++)
        x[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

void mamba_stack_init_params(mamba_stack *s, ssm_params *p, ssm_rng *rng) {
    const int64_t D = s->D, E = s->E, N = s->N, R = s->R, P = s->P, dc = s->dc;
    const mamba_config *c = &s->cfg;
    // nn.Linear / nn.Conv1d default: kaiming_uniform(a=sqrt(5)) gives the
    // bound gain*sqrt(3/fan_in) with gain = sqrt(2/(1+5)), i.e. 1/sqrt(fan_in).
    const double lin_D = 1 / sqrt((double)D), lin_E = 1 / sqrt((double)E);
    const double conv_bound = 1 / sqrt((double)dc); // depthwise: fan_in = 1 * d_conv
    const double dt_w_bound = 1 / sqrt((double)R);  // dt_init "random", dt_scale 1
    // _init_weights(rescale_prenorm_residual): out_proj /= sqrt(1 * n_layer); a post-norm
    // block's mixer is not a pre-norm residual branch (mamba.h)
    const double out_scale =
        c->norm_position == MAMBA_POST_NORM ? 1 : 1 / sqrt((double)s->n_layers);
    const int64_t F = c->ffn_dim;
    const double log_lo = log(c->dt_min), log_hi = log(c->dt_max);
    for (int64_t i = 0; i < s->n_layers; i++) {
        mamba_layer_params *l = &s->lp[i];
        fill_uniform(ssm_params_data(p, l->in_w), (size_t)(2 * E * D), lin_D, rng);
        for (int k = 0; k < s->K; k++) {
            mamba_branch_params *b = &l->br[k];
            fill_uniform(ssm_params_data(p, b->conv_w), (size_t)(E * dc), conv_bound, rng);
            fill_uniform(ssm_params_data(p, b->conv_b), (size_t)E, conv_bound, rng);
            fill_uniform(ssm_params_data(p, b->xproj_w), (size_t)(P * E), lin_E, rng);
            fill_uniform(ssm_params_data(p, b->dt_w), (size_t)(E * R), dt_w_bound, rng);
            real *dt_b = ssm_params_data(p, b->dt_b);
            for (int64_t e = 0; e < E; e++) {
                double dt = exp(ssm_rng_uniform(rng) * (log_hi - log_lo) + log_lo);
                if (dt < c->dt_init_floor)
                    dt = c->dt_init_floor;
                dt_b[e] = (real)(dt + log(-expm1(-dt))); // inverse of softplus
            }
            real *A_log = ssm_params_data(p, b->A_log);
            for (int64_t e = 0; e < E; e++)
                for (int64_t n = 0; n < N; n++)
                    A_log[e * N + n] = (real)log((double)(n + 1)); // S4D-real
            real *Dk = ssm_params_data(p, b->D);
            for (int64_t e = 0; e < E; e++)
                Dk[e] = 1;
        }
        real *W_out = ssm_params_data(p, l->out_w);
        fill_uniform(W_out, (size_t)(D * E), lin_E * out_scale, rng);
        real *nw = ssm_params_data(p, l->norm_w);
        for (int64_t d = 0; d < D; d++)
            nw[d] = 1;
        if (l->norm_b != SIZE_MAX)
            memset(ssm_params_data(p, l->norm_b), 0, (size_t)D * sizeof(real));
        if (F > 0) { // nn.Linear (S-Mamba's kernel-1 Conv1d: the same bounds)
            const double b1 = 1 / sqrt((double)D), b2 = 1 / sqrt((double)F);
            fill_uniform(ssm_params_data(p, l->fc1_w), (size_t)(F * D), b1, rng);
            fill_uniform(ssm_params_data(p, l->fc1_b), (size_t)F, b1, rng);
            fill_uniform(ssm_params_data(p, l->fc2_w), (size_t)(D * F), b2, rng);
            fill_uniform(ssm_params_data(p, l->fc2_b), (size_t)D, b2, rng);
            real *n2 = ssm_params_data(p, l->norm2_w);
            for (int64_t d = 0; d < D; d++)
                n2[d] = 1;
            if (l->norm2_b != SIZE_MAX)
                memset(ssm_params_data(p, l->norm2_b), 0, (size_t)D * sizeof(real));
        }
    }
    real *fw = ssm_params_data(p, s->normf_w);
    for (int64_t d = 0; d < D; d++)
        fw[d] = 1;
    if (s->normf_b != SIZE_MAX)
        memset(ssm_params_data(p, s->normf_b), 0, (size_t)D * sizeof(real));
    if (s->prompt_w != SIZE_MAX) { // nn.Embedding's N(0, 1), drawn last (mamba.h)
        real *w = ssm_params_data(p, s->prompt_w);
        const size_t n = (size_t)(c->prompt_orders * s->n_prompt * D);
        for (size_t i = 0; i < n; i++)
            w[i] = (real)ssm_rng_normal(rng, 1.0);
    }
}

ssm_code mamba_stack_plan(mamba_stack *s, ssm_arena *a, int64_t B_max, int64_t L, ssm_error *err) {
    if (B_max < 1 || L < 1)
        return ssm_fail(err, SSM_EINVAL, "mamba plan: B_max %lld, L %lld: each must be >= 1",
                        (long long)B_max, (long long)L);
    if (s->cfg.precision != MAMBA_FP32)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba plan: precision bf16 (run.precision: bf16) is mixed precision on "
                        "a GPU only (run.device: cuda); the CPU backbone runs in fp32 (set "
                        "run.precision: fp32)");
    const int measuring = ssm_arena_measuring(a);
    s->B_max = B_max;
    s->L_tok = L;
    L += s->n_prompt; // order prompts: the runs are over the extended sequences (mamba.h)
    s->L = L;
    s->n_chunks = (L + s->cfg.scan_chunk - 1) / s->cfg.scan_chunk;
    s->plan_threads = omp_get_max_threads();
    s->planned = 0;
    const int64_t B = B_max, D = s->D, E = s->E, N = s->N, P = s->P;
    const size_t BLD = (size_t)(B * L * D), BEL = (size_t)(B * E * L);
    int missing = 0;
#define TAKE(ptr, n)                                                     \
    do {                                                                 \
        (ptr) = ssm_arena_take(a, (size_t)(n) * sizeof(real));           \
        missing |= !measuring && (ptr) == NULL;                          \
    } while (0)
    for (int64_t i = 0; i < s->n_layers; i++) {
        mamba_layer_acts *t = &s->acts[i];
        memset(t, 0, sizeof *t);
        TAKE(t->res, BLD);
        TAKE(t->normed, BLD);
        if (s->cfg.norm == MAMBA_NORM_LAYER)
            TAKE(t->mean, B * L);
        TAKE(t->rstd, B * L);
        TAKE(t->xz, 2 * BEL);
        TAKE(t->y, BEL);
        for (int k = 0; k < s->K; k++) {
            TAKE(t->xdbl[k], B * P * L);
            TAKE(t->cstates[k], B * E * s->n_chunks * N);
        }
    }
    TAKE(s->res_out, BLD);
    s->mean_f = NULL;
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        TAKE(s->mean_f, B * L);
    TAKE(s->rstd_f, B * L);
    mamba_scratch *c = &s->sc;
    // Forward prefix first (see mamba_scratch), then the backward's part.
    TAKE(c->A, s->K * E * N);
    TAKE(c->xg, BEL);
    TAKE(c->xc, BEL);
    TAKE(c->delta, BEL);
    TAKE(c->ys, BEL);
    TAKE(c->dres, BLD);
    TAKE(c->dnormed, BLD);
    TAKE(c->dxz, 2 * BEL);
    TAKE(c->dy, BEL);
    TAKE(c->dxc, BEL);
    TAKE(c->ddelta, BEL);
    TAKE(c->dxdbl, B * P * L);
    // one gradient slot and one single-thread scan workspace per thread (the
    // per-sample path), or one workspace for plan_threads (the batch < threads path)
    s->gslot = (s->gspan + 15) / 16 * 16 + (size_t)(s->K * E * N);
    TAKE(c->gslots, (size_t)s->plan_threads * s->gslot);
    scan_shape ss = {.B = 1, .D = E, .L = L, .N = N, .G = 1, .chunk = s->cfg.scan_chunk,
                     .delta_softplus = 1};
    s->ws_slot = (selective_scan_workspace_size(&ss, 1) + 15) / 16 * 16;
    size_t ws = (size_t)s->plan_threads * s->ws_slot;
    const size_t ws_wide = selective_scan_workspace_size(&ss, s->plan_threads);
    ws = ws > ws_wide ? ws : ws_wide;
    // A packed row of up to B_max * L tokens runs as one sample (its checkpoints fit
    // cstates: ceil(B L / c) <= B ceil(L / c)). With B_max = 1 ws_wide is its workspace on
    // plan_threads; a dense plan (B_max > 1) is not grown for it: it keeps room for the
    // single-thread scan of such a row (no dB/dC partials: a few [chunk, N, W] tiles), and
    // the packed backward runs the scan on as many threads as ws holds (mixer.c).
    ss.L = B * L;
    const size_t ws_packed = selective_scan_workspace_size(&ss, 1);
    ws = ws > ws_packed ? ws : ws_packed;
    s->ws_elems = ws;
    TAKE(c->ws, ws);
    // the extended block's buffers come last, so the plain block's layout is unchanged
    c->dffn = NULL;
    if (mamba_block_extended(&s->cfg)) {
        const int64_t F = s->cfg.ffn_dim, post = s->cfg.norm_position == MAMBA_POST_NORM;
        for (int64_t i = 0; i < s->n_layers; i++) {
            mamba_layer_acts *t = &s->acts[i];
            TAKE(t->sum1, BLD);
            if (F > 0) {
                TAKE(t->hn, BLD);
                if (post)
                    TAKE(t->sum2, BLD);
                if (s->cfg.norm == MAMBA_NORM_LAYER)
                    TAKE(t->mean2, B * L);
                TAKE(t->rstd2, B * L);
                TAKE(t->ffn_a, B * L * F);
                TAKE(t->ffn_g, B * L * F);
            }
        }
        if (F > 0)
            TAKE(c->dffn, B * L * F);
    }
    s->pr_perm = NULL;
    if (s->n_prompt) { // last: the plan without prompts is unchanged
        s->pr_perm = ssm_arena_take(a, (size_t)(s->cfg.prompt_orders * B * L) * sizeof(int32_t));
        missing |= !measuring && s->pr_perm == NULL;
    }
#undef TAKE
    if (missing)
        return ssm_fail(err, SSM_ENOMEM,
                        "mamba plan: the arena (%zu bytes) is smaller than the measured plan; "
                        "plan in measure mode, ssm_arena_commit, then plan again with the same "
                        "calls",
                        a->capacity);
    s->planned = !measuring;
    return SSM_OK;
}

void mamba_stack_free(mamba_stack *s) {
    if (!s)
        return;
    free(s->lp);
    free(s->acts);
    free(s->cu_acts);
    free(s->bf_acts);
    free(s);
}

// What the dense and the packed checks share: perm and count given, the schedule's
// entries (or enough orders without one).
static ssm_code check_schedule(const mamba_stack *s, const mamba_orders *o, ssm_error *err) {
    if (!o || !o->perm || o->count < 1)
        return ssm_fail(err, SSM_EINVAL, "mamba: no scan orders given (need perm and count >= 1)");
    if (o->schedule) {
        for (int64_t i = 0; i < s->n_layers; i++)
            for (int64_t k = 0; k < s->K; k++) {
                int32_t v = o->schedule[i * s->K + k];
                if (v < 0 || v >= o->count)
                    return ssm_fail(err, SSM_EINVAL,
                                    "mamba: schedule[layer %lld][branch %lld] = %d, expected an "
                                    "order index in [0, %lld)",
                                    (long long)i, (long long)k, v, (long long)o->count);
            }
    } else if (o->count < s->K) {
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: %lld scan orders and no schedule, but %lld branches need one each",
                        (long long)o->count, (long long)s->K);
    }
    return SSM_OK;
}

ssm_code mamba_orders_check(const mamba_stack *s, const mamba_orders *o, int64_t B,
                            ssm_error *err) {
    if (B < 1 || B > s->B_max)
        return ssm_fail(err, SSM_EINVAL, "mamba: batch %lld, planned for 1..%lld", (long long)B,
                        (long long)s->B_max);
    SSM_TRY(check_schedule(s, o, err));
    if (s->n_prompt && o->count > s->cfg.prompt_orders)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: %lld scan orders, but the order prompts (order_prompt.weight) "
                        "were declared for %lld",
                        (long long)o->count, (long long)s->cfg.prompt_orders);
    const int64_t L = s->L_tok; // the caller's orders: without the prompt slots
    unsigned char *seen = malloc((size_t)L);
    if (!seen)
        return ssm_fail(err, SSM_ENOMEM, "mamba: out of memory checking orders");
    for (int64_t c = 0; c < o->count; c++)
        for (int64_t b = 0; b < B; b++) {
            const int32_t *row = o->perm + (c * B + b) * L;
            memset(seen, 0, (size_t)L);
            for (int64_t l = 0; l < L; l++) {
                int32_t v = row[l];
                if (v < 0 || v >= L || seen[v]) {
                    free(seen);
                    return ssm_fail(err, SSM_EDATA,
                                    "mamba: order %lld, sample %lld, step %lld reads position %d: "
                                    "%s (each row must be a permutation of 0..%lld)",
                                    (long long)c, (long long)b, (long long)l, v,
                                    (v < 0 || v >= L) ? "out of range" : "repeated",
                                    (long long)(L - 1));
                }
                seen[v] = 1;
            }
        }
    free(seen);
    return SSM_OK;
}

void mamba_order_identity(int32_t *perm, int64_t B, int64_t L) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            perm[b * L + l] = (int32_t)l;
}

void mamba_order_reverse(int32_t *perm, int64_t B, int64_t L) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            perm[b * L + l] = (int32_t)(L - 1 - l);
}

// The sequence that holds token t of a packed row (offsets ascending).
static int64_t sequence_of(const ssm_packing *pk, int64_t t) {
    int64_t lo = 0, hi = pk->n - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) / 2;
        if (pk->offsets[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

ssm_code mamba_orders_check_packed(const mamba_stack *s, const mamba_orders *o,
                                   const ssm_packing *pk, ssm_error *err) {
    if (s->B_max < 1 || s->L < 1)
        return ssm_fail(err, SSM_EINVAL, "mamba: packed orders checked before mamba_stack_plan");
    if (s->n_prompt)
        return ssm_fail(err, SSM_EINVAL,
                        "mamba: order prompts (backbone.order_prompts %lld) are laid around each "
                        "dense sequence; packed (ragged) rows are not supported with them",
                        (long long)s->n_prompt);
    SSM_TRY(ssm_packing_check(pk, s->B_max * s->L, err));
    SSM_TRY(check_schedule(s, o, err));
    const int64_t T = pk->total;
    unsigned char *seen = malloc((size_t)T);
    if (!seen)
        return ssm_fail(err, SSM_ENOMEM, "mamba: out of memory checking orders");
    for (int64_t c = 0; c < o->count; c++) {
        const int32_t *row = o->perm + c * T;
        memset(seen, 0, (size_t)T);
        for (int64_t i = 0; i < pk->n; i++) {
            const int64_t lo = pk->offsets[i], hi = pk->offsets[i + 1];
            for (int64_t l = lo; l < hi; l++) {
                const int32_t v = row[l];
                if (v >= lo && v < hi && !seen[v]) {
                    seen[v] = 1;
                    continue;
                }
                char why[96];
                if (v < 0 || v >= T)
                    snprintf(why, sizeof why, "out of range (the row has %lld tokens)",
                             (long long)T);
                else if (v < lo || v >= hi)
                    snprintf(why, sizeof why, "a token of sequence %lld",
                             (long long)sequence_of(pk, v));
                else
                    snprintf(why, sizeof why, "repeated");
                free(seen);
                return ssm_fail(err, SSM_EDATA,
                                "mamba: packed order %lld, sequence %lld (positions %lld..%lld), "
                                "step %lld reads position %d: %s; every order must map each "
                                "sequence onto itself",
                                (long long)c, (long long)i, (long long)lo, (long long)(hi - 1),
                                (long long)l, v, why);
            }
        }
    }
    free(seen);
    return SSM_OK;
}

void mamba_order_identity_packed(int32_t *perm, const ssm_packing *pk) {
    for (int64_t l = 0; l < pk->total; l++)
        perm[l] = (int32_t)l;
}

void mamba_order_reverse_packed(int32_t *perm, const ssm_packing *pk) {
    for (int64_t i = 0; i < pk->n; i++) {
        const int64_t lo = pk->offsets[i], hi = pk->offsets[i + 1];
        for (int64_t l = lo; l < hi; l++)
            perm[l] = (int32_t)(lo + hi - 1 - l);
    }
}
