// defines: mamba_mixer_forward, mamba_mixer_backward, mamba_mixer_forward_run,
//          mamba_mixer_backward_run
// One layer's Mamba mixer (mamba_ssm's mamba_simple.py, Vim's bimamba "v2"):
//   xz = in_proj(in)                                  shared by the branches
//   for each branch k (its own scan order perm_k):
//     xg  = gather(x, perm_k)                         tokens in scan order
//     u   = SiLU(conv1d_k(xg))                        causal depthwise, width d_conv
//     dt, B, C = split(x_proj_k(u))                   [R | N | N] rows
//     delta = dt_proj_k.weight @ dt                   bias goes in as the scan's delta_bias
//     ys  = scan(u, delta, A_k = -exp(A_log_k), B, C, D_k), softplus on, no z
//     y  += alpha * scatter(ys, perm_k)               alpha = 1/K (mean) or 1 (sum)
//   out += out_proj(y * SiLU(z))
// Gating once after the merge equals Vim's per-branch gating: Vim gates each
// branch with the z permuted the same way as its x, so after scattering back
// every branch is multiplied by the same SiLU(z) at each position, and the
// elementwise gate distributes over the (linear) merge.
//
// Internals are channel-first [B, E, L] (as mamba_ssm), so every projection
// is one GEMM per sample with no transposes, and the x_proj output rows are
// already the scan's [G=1, N, L] B and C layout.
//
// Threads: samples are independent through the whole mixer, so the pass is
// ONE parallel region over the samples (static blocks of samples per
// thread); each thread runs the whole per-sample pipeline with serial
// kernels and single-threaded GEMMs (kernels/linear.h), keeping a sample's
// activations in its cache. On 2 cores this replaced ~40 OpenMP regions and
// ~20 OpenBLAS thread hand-offs per layer and pass. Parameter gradients are
// summed per thread into a private slot that mirrors the layer's span of the
// flat gradient table, then the slots are added in thread order: same thread
// count and batch -> same bits. With fewer samples than threads (B = 1
// inference, say) the samples run one after the other and the kernels use
// the threads inside (one slot).
//
// Every pass runs with a run length L (mamba_run, mamba_internal.h): the
// plan's L for the dense calls, or pk->total for a packed row, which is one
// sample (B = 1, the path above) whose conv and scan restart at the segment
// offsets; the per-token steps (projections, gate, merge) need no change.
//
// Dropout on the output (cfg.mixer_dropout in a training pass, mamba.h): out +=
// drop(out_proj(..)), the product put in the sample's delta slice (free once the branches
// are done) and masked there; the backward takes dout through the same mask into the
// sample's dxz slice (free until the gate's backward fills it) before out_proj's.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "backbone/mamba_internal.h"
#include "kernels/activation.h"
#include "kernels/conv1d.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"
#include "kernels/permute.h"
#include "kernels/scan.h"

static void zero(real *x, size_t n) { memset(x, 0, n * sizeof(real)); }

// The scan of one sample (or of the one packed row) of the run.
static scan_shape sample_scan_shape(const mamba_stack *s, const mamba_run *r) {
    return (scan_shape){.B = 1, .D = s->E, .L = r->L, .N = s->N, .G = 1,
                        .chunk = s->cfg.scan_chunk, .delta_softplus = 1,
                        .seg_offsets = r->seg_offsets, .n_segs = r->seg_offsets ? r->n_segs : 0};
}

static real merge_alpha(const mamba_stack *s) {
    return s->cfg.merge == MAMBA_MERGE_MEAN ? (real)1 / (real)s->K : (real)1;
}

static int is_identity(const int32_t *perm, int64_t L) {
    for (int64_t l = 0; l < L; l++)
        if (perm[l] != l)
            return 0;
    return 1;
}

// Threads for the per-sample region, or 1: the samples then run in order and
// the kernels parallelize inside. Never more than the plan sized slots for.
static int sample_threads(const mamba_stack *s, int64_t B) {
    int nt = omp_get_max_threads();
    if (nt > s->plan_threads)
        nt = s->plan_threads;
    return B >= nt ? nt : 1;
}

// What one call needs, resolved once (pointers into the parameter table). L is
// the run's length (s->L for the dense calls, pk->total for a packed row): the
// per-sample slices of the planned buffers are [.., L] with this L.
typedef struct {
    mamba_stack *s;
    const ssm_params *p;
    int64_t layer, B, L;
    int64_t n_chunks;                         // scan checkpoints per sample: ceil(L / chunk)
    const real *W_in, *W_out;                 // [2E, D], [D, E]
    const int32_t *perm[MAMBA_MAX_BRANCHES];  // [B, L] per branch
    real alpha;
    scan_shape ss;                            // one sample; seg_offsets: a packed row
    int scan_threads;                         // > 0: run the scan backward on this many
    double drop_p;                            // dropout on the output (0: none)
    ssm_dropout_rows drop_rows;               // the run's rows -> samples
    uint32_t drop_site;
} mixer_call;

static mixer_call call_init(mamba_stack *s, const ssm_params *p, int64_t layer,
                            const mamba_orders *o, const mamba_run *r) {
    mixer_call m = {.s = s, .p = p, .layer = layer, .B = r->B, .L = r->L,
                    .n_chunks = (r->L + s->cfg.scan_chunk - 1) / s->cfg.scan_chunk,
                    .alpha = merge_alpha(s), .ss = sample_scan_shape(s, r),
                    .drop_p = mamba_drop_p(s, MAMBA_DROP_MIXER),
                    .drop_rows = mamba_drop_rows(s, r->L, r->seg_offsets, r->n_segs),
                    .drop_site = mamba_drop_site(layer, MAMBA_DROP_MIXER)};
    gemm_threads_init(); // before the per-sample regions call gemm from inside
    m.W_in = ssm_params_data(p, s->lp[layer].in_w);
    m.W_out = ssm_params_data(p, s->lp[layer].out_w);
    for (int k = 0; k < s->K; k++)
        m.perm[k] = mamba_run_perm(s, o, layer, k, r);
    // A = -exp(A_log) of every branch, shared read-only by the threads
    for (int k = 0; k < s->K; k++) {
        const real *A_log = ssm_params_data(p, s->lp[layer].br[k].A_log);
        real *A = s->sc.A + k * s->E * s->N;
        for (int64_t i = 0; i < s->E * s->N; i++)
            A[i] = -(real)exp((double)A_log[i]);
    }
    return m;
}

// Branch k's scan inputs for sample b: u = xc_b (conv + SiLU of the x rows,
// gathered into xg_b unless the order is the identity), delta_b, and the
// x_proj output xdbl_b when store_xdbl (the backward's recompute reads the
// stored one: it depends only on xc, which the recompute reproduces bitwise).
// Returns the conv input (x rows of xz, or xg_b).
static const real *branch_inputs(const mixer_call *m, int k, int64_t b, int store_xdbl) {
    const mamba_stack *s = m->s;
    const int64_t E = s->E, L = m->L, R = s->R, P = s->P;
    const mamba_branch_params *bp = &s->lp[m->layer].br[k];
    const mamba_layer_acts *t = &s->acts[m->layer];
    const mamba_scratch *c = &s->sc;
    const int32_t *perm = m->perm[k] + b * L;
    const real *x = t->xz + b * 2 * E * L; // [E, L] x rows
    real *xg = c->xg + b * E * L, *xc = c->xc + b * E * L;
    real *xdbl = t->xdbl[k] + b * P * L; // [P, L]
    const real *src = x;
    if (!is_identity(perm, L)) {
        gather_tokens_forward(xg, x, perm, 1, E, L);
        src = xg;
    }
    conv1d_causal_forward(xc, src, ssm_params_data(m->p, bp->conv_w),
                          ssm_params_data(m->p, bp->conv_b), 1, E, L, s->dc, 1, m->ss.seg_offsets,
                          m->ss.n_segs);
    if (store_xdbl) // [P, L] = W_x [P, E] @ u [E, L]
        gemm(xdbl, ssm_params_data(m->p, bp->xproj_w), xc, P, L, E, 0, 0, 1, 0);
    // delta [E, L] = W_dt [E, R] @ dt [R, L]
    gemm(c->delta + b * E * L, ssm_params_data(m->p, bp->dt_w), xdbl, E, L, R, 0, 0, 1, 0);
    return src;
}

static void forward_sample(const mixer_call *m, real *out, const real *in, int64_t b) {
    const mamba_stack *s = m->s;
    const int64_t D = s->D, E = s->E, L = m->L, N = s->N, R = s->R, P = s->P;
    const mamba_layer_acts *t = &s->acts[m->layer];
    const mamba_scratch *c = &s->sc;
    const size_t cs = (size_t)(E * m->n_chunks * N); // chunk states per sample
    real *xz = t->xz + b * 2 * E * L, *y = t->y + b * E * L;
    gemm(xz, m->W_in, in + b * L * D, 2 * E, L, D, 0, 1, 1, 0); // [2E, L] = W_in @ in[b]^T
    for (int k = 0; k < s->K; k++) {
        const mamba_branch_params *bp = &s->lp[m->layer].br[k];
        branch_inputs(m, k, b, 1);
        const real *xd = t->xdbl[k] + b * P * L;
        real *ys = c->ys + b * E * L;
        selective_scan_forward(ys, NULL, t->cstates[k] + b * cs, c->xc + b * E * L,
                               c->delta + b * E * L, c->A + k * E * N, xd + R * L,
                               xd + (R + N) * L, ssm_params_data(m->p, bp->D), NULL,
                               ssm_params_data(m->p, bp->dt_b), &m->ss);
        scatter_tokens_forward(y, ys, m->perm[k] + b * L, 1, E, L, m->alpha, k > 0);
    }
    real *g = c->xg + b * E * L; // [E, L] free once the branches are done
    gate_forward(g, y, xz + E * L, E * L);
    if (!(m->drop_p > 0)) {
        gemm(out + b * L * D, g, m->W_out, L, D, E, 1, 1, 1, 1); // [L, D] += g^T @ W_out^T
        return;
    }
    real *mo = c->delta + b * E * L, *ob = out + b * L * D; // [L, D] of the free [E, L]
    gemm(mo, g, m->W_out, L, D, E, 1, 1, 1, 0);
    dropout_apply(mo, mo, b * L, L, D, &m->drop_rows, m->drop_site, m->drop_p);
    for (int64_t i = 0; i < L * D; i++)
        ob[i] += mo[i];
}

void mamba_mixer_forward_run(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                             const real *in, const mamba_orders *o, const mamba_run *r) {
    const mixer_call m = call_init(s, p, layer, o, r);
    const int64_t B = r->B;
    const int nt = sample_threads(s, B);
    if (nt == 1) {
        for (int64_t b = 0; b < B; b++)
            forward_sample(&m, out, in, b);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t b = 0; b < B; b++)
        forward_sample(&m, out, in, b);
}

// Where a parameter's gradient goes: its place in the thread's slot, which
// mirrors the layer's span of the flat gradient table.
static real *slot_grad(const mixer_call *m, real *slot, size_t idx) {
    const ssm_params *p = m->p;
    return slot + (p->items[idx].offset - p->items[m->s->lp[m->layer].in_w].offset);
}

// One sample's backward. Parameter gradients go to slot (+=); dA of branch k
// to slot_dA + k*E*N (A_log's chain rule is applied once, after the sum).
static void backward_sample(const mixer_call *m, real *slot, real *slot_dA, real *ws, real *din,
                            const real *dout, const real *in, int64_t b) {
    const mamba_stack *s = m->s;
    const int64_t D = s->D, E = s->E, L = m->L, N = s->N, R = s->R, P = s->P;
    const size_t EL = (size_t)(E * L), cs = (size_t)(E * m->n_chunks * N);
    const mamba_layer_params *lp = &s->lp[m->layer];
    const mamba_layer_acts *t = &s->acts[m->layer];
    const mamba_scratch *c = &s->sc;
    const real *y = t->y + b * EL, *xz = t->xz + b * 2 * EL, *z = xz + EL;
    const real *db = dout + b * L * D, *inb = in + b * L * D;
    real *dxz = c->dxz + b * 2 * EL, *dy = c->dy + b * EL;
    real *xg = c->xg + b * EL, *xc = c->xc + b * EL, *delta = c->delta + b * EL;
    real *dys = c->ys + b * EL, *dxc = c->dxc + b * EL, *ddel = c->ddelta + b * EL;
    real *dxd = c->dxdbl + b * P * L;

    if (m->drop_p > 0) { // the gradient of out_proj's output: dout[b] through the mask
        dropout_apply(dxz, db, b * L, L, D, &m->drop_rows, m->drop_site, m->drop_p);
        db = dxz; // read by the two GEMMs below, before dxz is zeroed
    }
    // out_proj and gate; g is recomputed (cheap, elementwise) rather than stored
    real *g = xg, *dg = delta; // both free until the branches recompute them
    gate_forward(g, y, z, (int64_t)EL);
    gemm(slot_grad(m, slot, lp->out_w), db, g, D, E, L, 1, 1, 1, 1); // += dout[b]^T @ g^T
    gemm(dg, m->W_out, db, E, L, D, 1, 1, 1, 0);                     // = W_out^T @ dout[b]^T
    zero(dxz, 2 * EL);
    zero(dy, EL);
    gate_backward(dy, dxz + EL, dg, y, z, (int64_t)EL);

    for (int k = 0; k < s->K; k++) {
        const mamba_branch_params *bp = &lp->br[k];
        const int32_t *perm = m->perm[k] + b * L;
        const real *src = branch_inputs(m, k, b, 0); // recompute u = xc, delta
        const real *xd = t->xdbl[k] + b * P * L;     // dt rows [0, R), B, C
        const real *W_x = ssm_params_data(m->p, bp->xproj_w);
        const real *W_dt = ssm_params_data(m->p, bp->dt_w);
        zero(dys, EL);
        zero(dxc, EL);
        zero(ddel, EL);
        zero(dxd, (size_t)(P * L));
        scatter_tokens_backward(dys, dy, perm, 1, E, L, m->alpha);
        const int outer = m->scan_threads ? omp_get_max_threads() : 0;
        if (m->scan_threads && m->scan_threads < outer)
            omp_set_num_threads(m->scan_threads);
        selective_scan_backward(dxc, ddel, slot_dA + k * E * N, dxd + R * L, dxd + (R + N) * L,
                                slot_grad(m, slot, bp->D), NULL, slot_grad(m, slot, bp->dt_b),
                                dys, t->cstates[k] + b * cs, xc, delta, c->A + k * E * N,
                                xd + R * L, xd + (R + N) * L, ssm_params_data(m->p, bp->D), NULL,
                                ssm_params_data(m->p, bp->dt_b), ws, &m->ss);
        if (m->scan_threads && m->scan_threads < outer)
            omp_set_num_threads(outer);
        gemm(slot_grad(m, slot, bp->dt_w), ddel, xd, E, R, L, 0, 1, 1, 1); // += ddelta @ dt^T
        gemm(dxd, W_dt, ddel, R, L, E, 1, 0, 1, 1);              // d dt += W_dt^T @ ddelta
        gemm(slot_grad(m, slot, bp->xproj_w), dxd, xc, P, E, L, 0, 1, 1, 1); // += dxdbl @ u^T
        gemm(dxc, W_x, dxd, E, L, P, 1, 0, 1, 1);                // du += W_x^T @ dxdbl
        const real *cw = ssm_params_data(m->p, bp->conv_w), *cb = ssm_params_data(m->p, bp->conv_b);
        real *dcw = slot_grad(m, slot, bp->conv_w), *dcb = slot_grad(m, slot, bp->conv_b);
        const int64_t *so = m->ss.seg_offsets, ns = m->ss.n_segs;
        if (src != xg) { // identity order: the conv's input gradient is dx itself
            conv1d_causal_backward(dxz, dcw, dcb, dxc, src, cw, cb, 1, E, L, s->dc, 1, so, ns);
        } else {
            real *dxg = dys; // dys is consumed
            zero(dxg, EL);
            conv1d_causal_backward(dxg, dcw, dcb, dxc, xg, cw, cb, 1, E, L, s->dc, 1, so, ns);
            gather_tokens_backward(dxz, dxg, perm, 1, E, L);
        }
    }
    gemm(slot_grad(m, slot, lp->in_w), dxz, inb, 2 * E, D, L, 0, 0, 1, 1); // += dxz @ in[b]
    gemm(din + b * L * D, dxz, m->W_in, L, D, 2 * E, 1, 0, 1, 1);          // += dxz^T @ W_in
}

// grad += the slots summed in slot order; A_log gets (sum of dA) * A.
// Called by every thread of a team of nslots (or outside a region).
static void reduce_slots(const mixer_call *m, int nslots) {
    const mamba_stack *s = m->s;
    const int64_t EN = s->E * s->N, K = s->K;
    const size_t span = s->gspan, dA_off = s->gslot - (size_t)(K * EN);
    const real *slots = s->sc.gslots;
    real *grad = ssm_params_grad(m->p, s->lp[m->layer].in_w);
#pragma omp for schedule(static)
    for (size_t i = 0; i < span; i++) {
        real acc = 0;
        for (int j = 0; j < nslots; j++)
            acc += slots[j * s->gslot + i];
        grad[i] += acc;
    }
#pragma omp for schedule(static)
    for (int64_t i = 0; i < K * EN; i++) {
        const int64_t k = i / EN;
        real acc = 0;
        for (int j = 0; j < nslots; j++)
            acc += slots[j * s->gslot + dA_off + i];
        // A = -exp(A_log): dA_log = dA * dA/dA_log = dA * A
        ssm_params_grad(m->p, s->lp[m->layer].br[k].A_log)[i % EN] += acc * s->sc.A[i];
    }
}

void mamba_mixer_backward_run(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                              const real *dout, const real *in, const mamba_orders *o,
                              const mamba_run *r) {
    mixer_call m = call_init(s, p, layer, o, r);
    const int64_t B = r->B;
    const size_t dA_off = s->gslot - (size_t)(s->K * s->E * s->N);
    const int nt = sample_threads(s, B);
    if (nt == 1) {
        // one slot; the kernels parallelize inside (the scan's workspace was
        // sized for plan_threads: never run it wider)
        const int outer = omp_get_max_threads();
        if (outer > s->plan_threads)
            omp_set_num_threads(s->plan_threads);
        if (r->seg_offsets && r->L > s->L) {
            // a packed row longer than the plan's L (a dense plan of the same token
            // budget): the scan on as many threads as the planned workspace holds
            int t = omp_get_max_threads();
            while (t > 1 && selective_scan_workspace_size(&m.ss, t) > s->ws_elems)
                t--;
            m.scan_threads = t;
        }
        real *slot = s->sc.gslots;
        zero(slot, s->gslot);
        for (int64_t b = 0; b < B; b++)
            backward_sample(&m, slot, slot + dA_off, s->sc.ws, din, dout, in, b);
        reduce_slots(&m, 1);
        if (outer > s->plan_threads)
            omp_set_num_threads(outer);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num();
        // this thread's kernels (the scan backward sizes its work and
        // workspace by omp_get_max_threads) run on it alone
        omp_set_num_threads(1);
        real *slot = s->sc.gslots + (size_t)tid * s->gslot;
        zero(slot, s->gslot);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++)
            backward_sample(&m, slot, slot + dA_off, s->sc.ws + (size_t)tid * s->ws_slot, din,
                            dout, in, b);
        // implicit barrier: every slot is complete
        reduce_slots(&m, omp_get_num_threads());
    }
}

void mamba_mixer_forward(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                         const real *in, const mamba_orders *o, int64_t B) {
    const mamba_run r = mamba_run_dense(s, B);
    mamba_mixer_forward_run(s, p, layer, out, in, o, &r);
}

void mamba_mixer_backward(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                          const real *dout, const real *in, const mamba_orders *o, int64_t B) {
    const mamba_run r = mamba_run_dense(s, B);
    mamba_mixer_backward_run(s, p, layer, din, dout, in, o, &r);
}
