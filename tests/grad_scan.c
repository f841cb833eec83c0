// Check suite (double build): selective scan backward against central finite
// differences of the scalar loss sum(w * out), for every input that has a
// gradient, with every option on and off, G = 1 and 2, and L not a multiple
// of the chunk (so the chunked recompute path is the one checked).
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "kernels/scan.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if !REAL_IS_DOUBLE
#error "grad_scan.c is built against the double-precision library (-DSSM_DOUBLE)"
#endif

enum { OPT_SOFTPLUS = 1, OPT_D = 2, OPT_Z = 4, OPT_BIAS = 8 };

typedef struct {
    scan_shape s;
    real *u, *delta, *A, *Bm, *Cm, *Dskip, *z, *bias; // inputs; optional ones NULL when off
    real *w;                                          // [B, D, L] loss weights (= dout)
    real *out;                                        // [B, D, L] scratch for the loss
} problem;

static double loss_fn(void *ctx) {
    problem *p = ctx;
    selective_scan_forward(p->out, NULL, NULL, p->u, p->delta, p->A, p->Bm, p->Cm, p->Dskip, p->z,
                           p->bias, &p->s);
    return tu_dot(p->w, p->out, (size_t)(p->s.B * p->s.D * p->s.L));
}

// h = 1e-5 in double: the central difference has truncation error
// ~h^2/6 * |f'''| ~ 1e-11 and rounding error ~eps * |loss| / h ~ 1e-10 (loss is
// O(1..10)), against gradients of O(0.01..1): expect relative errors ~1e-7 at
// worst. 1e-6 leaves a margin of 10 yet catches any real mistake (a dropped
// term or a wrong factor is >= 1e-3). Gradients smaller than 1e-3 are judged
// on absolute error (abs_floor), since their relative error is all rounding.
#define FD_H 1e-5
#define FD_TOL 1e-6
#define FD_FLOOR 1e-3

static void check_grads_d(int64_t D, int64_t G, int opts, int64_t N, int64_t L, int64_t chunk) {
    const int64_t B = 2;
    problem p = {.s = {B, D, L, N, G, chunk, !!(opts & OPT_SOFTPLUS)}};
    uint64_t st = 31 + (uint64_t)opts * 101 + (uint64_t)G;
    size_t BDL = (size_t)(B * D * L), BGNL = (size_t)(B * G * N * L), DN = (size_t)(D * N);
    p.u = tu_new_uniform(BDL, -1, 1, &st);
    // keep delta + bias away from softplus' switch to linear at 20
    p.delta =
        opts & OPT_SOFTPLUS ? tu_new_uniform(BDL, -2, 1, &st) : tu_new_uniform(BDL, 0.05, 0.8, &st);
    p.A = tu_new_uniform(DN, -2.0, -0.3, &st);
    p.Bm = tu_new_uniform(BGNL, -1, 1, &st);
    p.Cm = tu_new_uniform(BGNL, -1, 1, &st);
    p.Dskip = opts & OPT_D ? tu_new_uniform((size_t)D, -1, 1, &st) : NULL;
    p.z = opts & OPT_Z ? tu_new_uniform(BDL, -2, 2, &st) : NULL;
    p.bias = opts & OPT_BIAS ? tu_new_uniform((size_t)D, -0.3, 0.3, &st) : NULL;
    p.w = tu_new_uniform(BDL, -1, 1, &st);
    p.out = malloc(sizeof(real) * BDL);

    // gradients start at random values: the backward must add, not overwrite
    struct {
        const char *name;
        real *x;     // the input perturbed
        size_t n;
        real *g, *g0; // gradient after backward, and its starting value
    } t[8] = {
        {.name = "u", .x = p.u, .n = BDL},
        {.name = "delta", .x = p.delta, .n = BDL},
        {.name = "A", .x = p.A, .n = DN},
        {.name = "B", .x = p.Bm, .n = BGNL},
        {.name = "C", .x = p.Cm, .n = BGNL},
        {.name = "D", .x = p.Dskip, .n = (size_t)D},
        {.name = "z", .x = p.z, .n = BDL},
        {.name = "delta_bias", .x = p.bias, .n = (size_t)D},
    };
    for (int i = 0; i < 8; i++) {
        t[i].g = tu_new_uniform(t[i].n, -1, 1, &st);
        t[i].g0 = malloc(sizeof(real) * t[i].n);
        memcpy(t[i].g0, t[i].g, sizeof(real) * t[i].n);
    }

    real *cs = malloc(sizeof(real) * selective_scan_chunk_states_size(&p.s));
    size_t ws_n = selective_scan_workspace_size(&p.s, omp_get_max_threads());
    real *ws = malloc(sizeof(real) * ws_n);
    for (size_t i = 0; i < ws_n; i++)
        ws[i] = NAN;
    selective_scan_forward(p.out, NULL, cs, p.u, p.delta, p.A, p.Bm, p.Cm, p.Dskip, p.z, p.bias,
                           &p.s);
    selective_scan_backward(t[0].g, t[1].g, t[2].g, t[3].g, t[4].g, p.Dskip ? t[5].g : NULL,
                            p.z ? t[6].g : NULL, p.bias ? t[7].g : NULL, p.w, cs, p.u, p.delta,
                            p.A, p.Bm, p.Cm, p.Dskip, p.z, p.bias, ws, &p.s);

    for (int i = 0; i < 8; i++) {
        if (!t[i].x) { // option off: its gradient was passed as NULL and must be untouched
            ck_assert(memcmp(t[i].g, t[i].g0, sizeof(real) * t[i].n) == 0);
            continue;
        }
        real *added = malloc(sizeof(real) * t[i].n);
        for (size_t j = 0; j < t[i].n; j++)
            added[j] = t[i].g[j] - t[i].g0[j];
        size_t worst;
        double e = tu_fd_check(t[i].x, added, t[i].n, loss_fn, &p, FD_H, FD_FLOOR, 400, &worst);
        ck_assert_msg(e < FD_TOL, "d%s: worst error %g at %zu (analytic %g; G=%ld opts=%d N=%ld L=%ld chunk=%ld)",
                      t[i].name, e, worst, added[worst], (long)G, opts, (long)N, (long)L,
                      (long)chunk);
        free(added);
    }

    for (int i = 0; i < 8; i++)
        free(t[i].g), free(t[i].g0);
    free(cs), free(ws), free(p.u), free(p.delta), free(p.A), free(p.Bm), free(p.Cm);
    free(p.Dskip), free(p.z), free(p.bias), free(p.w), free(p.out);
}

static void check_grads(int64_t G, int opts, int64_t N, int64_t L, int64_t chunk) {
    check_grads_d(4, G, opts, N, L, chunk);
}

START_TEST(grads_all_options_on) {
    for (int64_t G = 1; G <= 2; G++) {
        check_grads(G, OPT_SOFTPLUS | OPT_D | OPT_Z | OPT_BIAS, 5, 13, 5);
        check_grads(G, OPT_D | OPT_Z | OPT_BIAS, 5, 13, 5); // no softplus
    }
}
END_TEST

START_TEST(grads_options_off) {
    for (int64_t G = 1; G <= 2; G++) {
        check_grads(G, 0, 3, 17, 4);
        check_grads(G, OPT_SOFTPLUS, 3, 17, 4);
        check_grads(G, OPT_SOFTPLUS | OPT_Z, 4, 14, 3);
        check_grads(G, OPT_D | OPT_BIAS, 4, 14, 3);
    }
}
END_TEST

START_TEST(grads_thread_counts_and_chunk_sizes) {
    // D = 20: 10 or 20 channels per group, more than one lane block (8 in
    // double), the last one partial. B*G = 2 or 4 work items per group set:
    // with 1 thread (G = 2) each group is one block (dB, dC added directly);
    // with 2 threads blocks write partial dB/dC summed at the end.
    const int all = OPT_SOFTPLUS | OPT_D | OPT_Z | OPT_BIAS;
    int saved = omp_get_max_threads();
    for (int nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        check_grads_d(20, 2, all, 6, 15, 64); // one chunk
        check_grads_d(20, 2, all, 6, 15, 1);  // chunk of 1
        check_grads_d(20, 1, all, 6, 15, 4);
    }
    omp_set_num_threads(saved);
}
END_TEST

int main(void) {
    Suite *su = suite_create("scan_grad");
    TCase *tc = tcase_create("scan_grad");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, grads_all_options_on);
    tcase_add_test(tc, grads_options_off);
    tcase_add_test(tc, grads_thread_counts_and_chunk_sizes);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
