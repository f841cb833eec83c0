// defines: main (benchmark of the CPU selective scan)
// Times selective_scan_forward and selective_scan_backward at Mamba-like
// shapes (softplus, D skip, gate z and delta_bias on; G = 1; chunk 64) under
// every CPU kernel variant this machine supports, side by side in one run
// (variants interleaved within each repetition, so that machine load hits
// them alike), and prints ms, an effective bandwidth that counts each input
// read once and each output written once, and each variant's time over the
// fastest variant's. Usage: scan_cpu [reps] (default 3). SSMKIT_CPU=v
// restricts the table to v.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu_dispatch.h"
#include "kernels/scan.h"

static real *fill(size_t n, float lo, float hi, uint64_t *st) {
    real *x = malloc(sizeof(real) * n);
    if (!x) {
        fprintf(stderr, "scan_cpu: out of memory (%zu reals)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *st = *st * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (real)(lo + (hi - lo) * (double)(*st >> 11) * 0x1.0p-53);
    }
    return x;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1)
        reps = 1;
    const scan_shape shapes[] = {
        {8, 384, 197, 16, 1, 64, 1}, // Vim-tiny-like: 196 patches + class token, d_inner 384
        {8, 768, 197, 16, 1, 64, 1}, // Vim-small-like
        {8, 768, 784, 16, 1, 64, 1}, // longer sequence (28x28 pixels)
    };
    const int threads = omp_get_max_threads();
    ssm_cpu_variant vs[SSM_CPU_N_VARIANTS];
    int nv = 0;
    if (getenv("SSMKIT_CPU") && *getenv("SSMKIT_CPU"))
        vs[nv++] = ssm_cpu_active();
    else
        for (int v = SSM_CPU_N_VARIANTS - 1; v >= 0; v--)
            if (ssm_cpu_supported((ssm_cpu_variant)v))
                vs[nv++] = (ssm_cpu_variant)v;
    printf("selective scan, CPU, %d threads, float, best of %d\n", threads, reps);
    printf("%5s %5s %5s %4s %5s %8s | %9s %8s %6s | %9s %8s %6s\n", "B", "D", "L", "N", "chunk",
           "variant", "fwd ms", "fwd GB/s", "x best", "bwd ms", "bwd GB/s", "x best");
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const scan_shape *s = &shapes[k];
        const size_t BDL = (size_t)(s->B * s->D * s->L), BGNL = (size_t)(s->B * s->G * s->N * s->L);
        const size_t DN = (size_t)(s->D * s->N), D = (size_t)s->D;
        const size_t ncs = selective_scan_chunk_states_size(s);
        uint64_t st = 1 + k;
        real *u = fill(BDL, -1, 1, &st), *delta = fill(BDL, -3, 0, &st), *z = fill(BDL, -2, 2, &st);
        real *A = fill(DN, -16, -1, &st), *Bm = fill(BGNL, -1, 1, &st), *Cm = fill(BGNL, -1, 1, &st);
        real *Dskip = fill(D, -1, 1, &st), *bias = fill(D, -1, 1, &st), *dout = fill(BDL, -1, 1, &st);
        real *out = fill(BDL, 0, 0, &st), *cs = fill(ncs, 0, 0, &st);
        real *du = fill(BDL, 0, 0, &st), *ddelta = fill(BDL, 0, 0, &st), *dz = fill(BDL, 0, 0, &st);
        real *dA = fill(DN, 0, 0, &st), *dB = fill(BGNL, 0, 0, &st), *dC = fill(BGNL, 0, 0, &st);
        real *dD = fill(D, 0, 0, &st), *dbias = fill(D, 0, 0, &st);
        real *ws = fill(selective_scan_workspace_size(s, threads), 0, 0, &st);

        double best_f[SSM_CPU_N_VARIANTS], best_b[SSM_CPU_N_VARIANTS];
        for (int i = 0; i < nv; i++)
            best_f[i] = best_b[i] = 1e30;
        for (int r = 0; r <= reps; r++) // r = 0 warms caches and page tables
            for (int i = 0; i < nv; i++) {
                ssm_error err = {0};
                if (ssm_cpu_select(vs[i], &err)) {
                    fprintf(stderr, "scan_cpu: %s\n", err.msg);
                    return 1;
                }
                double t0 = omp_get_wtime();
                selective_scan_forward(out, NULL, cs, u, delta, A, Bm, Cm, Dskip, z, bias, s);
                double t1 = omp_get_wtime();
                selective_scan_backward(du, ddelta, dA, dB, dC, dD, dz, dbias, dout, cs, u, delta,
                                        A, Bm, Cm, Dskip, z, bias, ws, s);
                double t2 = omp_get_wtime();
                if (r > 0) {
                    best_f[i] = t1 - t0 < best_f[i] ? t1 - t0 : best_f[i];
                    best_b[i] = t2 - t1 < best_b[i] ? t2 - t1 : best_b[i];
                }
            }
        // forward: reads u, delta, z, B, C, A, Dskip, bias; writes out, chunk states
        double fbytes = sizeof(real) * (double)(3 * BDL + 2 * BGNL + DN + 2 * D + BDL + ncs);
        // backward: reads dout, u, delta, z, B, C, chunk states, A, Dskip, bias;
        // writes du, ddelta, dz, dB, dC, dA, dD, dbias
        double bbytes = sizeof(real) * (double)(4 * BDL + 2 * BGNL + ncs + DN + 2 * D + 3 * BDL +
                                                2 * BGNL + DN + 2 * D);
        double min_f = 1e30, min_b = 1e30;
        for (int i = 0; i < nv; i++) {
            min_f = best_f[i] < min_f ? best_f[i] : min_f;
            min_b = best_b[i] < min_b ? best_b[i] : min_b;
        }
        for (int i = 0; i < nv; i++)
            printf("%5ld %5ld %5ld %4ld %5ld %8s | %9.2f %8.2f %6.2f | %9.2f %8.2f %6.2f\n",
                   (long)s->B, (long)s->D, (long)s->L, (long)s->N, (long)s->chunk,
                   ssm_cpu_variant_name(vs[i]), best_f[i] * 1e3, fbytes / best_f[i] * 1e-9,
                   best_f[i] / min_f, best_b[i] * 1e3, bbytes / best_b[i] * 1e-9,
                   best_b[i] / min_b);
        real *bufs[] = {u, delta, z, A, Bm, Cm, Dskip, bias, dout, out, cs, du,
                        ddelta, dz, dA, dB, dC, dD, dbias, ws};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
            free(bufs[i]);
    }
    return 0;
}
