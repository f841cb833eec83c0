// defines: scan_problem, scan_problem_draw, scan_problem_free, OPT_SOFTPLUS, OPT_D, OPT_Z,
//          OPT_BIAS, OPT_ALL
// The random inputs of one selective scan (kernels/scan.h) that the scan suites check the
// kernels on (tests/test_scan.c, test_kernels_packed.c, test_cuda.c): drawn in one fixed
// order and range, so that a case's seed means the same problem in every suite.
// Header-only (each suite is its own binary).
#pragma once
#include <stdlib.h>

#include "kernels/scan.h"
#include "tests/util/testutil.h"

enum { OPT_SOFTPLUS = 1, OPT_D = 2, OPT_Z = 4, OPT_BIAS = 8, OPT_ALL = 15 };

// Inputs of one scan problem of shape s; optional ones are NULL when switched off.
typedef struct {
    scan_shape s;
    real *u, *delta, *A, *Bm, *Cm, *Dskip, *z, *bias;
    real *dout; // the output's gradient, when drawn
} scan_problem;

// u, delta, A, B, C, then the options' D, z and delta_bias (opts: OPT_*), then with
// with_dout dout, from *st in that order. With softplus on, the raw delta sits around 0
// (dt in ~[0.2, 1.3]); off, delta is dt itself, positive.
static inline scan_problem scan_problem_draw(scan_shape s, int opts, int with_dout, uint64_t *st) {
    scan_problem p = {.s = s};
    const size_t BDL = (size_t)(s.B * s.D * s.L), BGNL = (size_t)(s.B * s.G * s.N * s.L);
    p.u = tu_new_uniform(BDL, -1, 1, st);
    p.delta = opts & OPT_SOFTPLUS ? tu_new_uniform(BDL, -1.5, 1.0, st)
                                  : tu_new_uniform(BDL, 0.05, 0.8, st);
    p.A = tu_new_uniform((size_t)(s.D * s.N), -2.0, -0.2, st);
    p.Bm = tu_new_uniform(BGNL, -1, 1, st);
    p.Cm = tu_new_uniform(BGNL, -1, 1, st);
    p.Dskip = opts & OPT_D ? tu_new_uniform((size_t)s.D, -1, 1, st) : NULL;
    p.z = opts & OPT_Z ? tu_new_uniform(BDL, -2, 2, st) : NULL;
    p.bias = opts & OPT_BIAS ? tu_new_uniform((size_t)s.D, -0.5, 0.5, st) : NULL;
    p.dout = with_dout ? tu_new_uniform(BDL, -1, 1, st) : NULL;
    return p;
}

static inline void scan_problem_free(scan_problem *p) {
    free(p->u), free(p->delta), free(p->A), free(p->Bm), free(p->Cm);
    free(p->Dskip), free(p->z), free(p->bias), free(p->dout);
}
