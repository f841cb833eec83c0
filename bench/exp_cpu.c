// defines: main (benchmark of the vector exp and exp2 of kernels/cpu_vec.h)
// Speed and accuracy of the scan's exponentials in one CPU variant (the
// Makefile builds this file once per vector ISA: exp_cpu_avx2, exp_cpu_avx512),
// beside SLEEF's vector functions (libsleef-dev) when SLEEF is installed, so
// that docs/kernels.md can say which one the kernels use and why.
// Accuracy: max relative error against exp2/exp in double over a sweep of
// the arguments the scan meets (exp2: dt*A*log2(e) in [-126, 0]; exp: [-87, 0]),
// also in float ulps. Speed: ns per element over a 4096-element array in L1,
// best of 7 runs of 2000 passes.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/timing.h"
#include "kernels/cpu_vec.h"
#ifdef SSM_HAVE_SLEEF
#include <sleef.h>
#endif

#define N_ARR 4096
#define PASSES 2000

typedef vr (*vfun)(vr);

static vr ours_exp2(vr x) { return v_exp2(x); }
static vr ours_exp(vr x) { return v_exp(x); }
#if defined(SSM_HAVE_SLEEF) && defined(V_AVX512)
static vr sleef_exp2_u10(vr x) { return Sleef_exp2f16_u10avx512f(x); }
static vr sleef_exp2_u35(vr x) { return Sleef_exp2f16_u35avx512f(x); }
static vr sleef_exp_u10(vr x) { return Sleef_expf16_u10avx512f(x); }
#define HAVE_SLEEF_HERE 1
#elif defined(SSM_HAVE_SLEEF) && defined(V_AVX2)
static vr sleef_exp2_u10(vr x) { return Sleef_exp2f8_u10avx2(x); }
static vr sleef_exp2_u35(vr x) { return Sleef_exp2f8_u35avx2(x); }
static vr sleef_exp_u10(vr x) { return Sleef_expf8_u10avx2(x); }
#define HAVE_SLEEF_HERE 1
#endif

// float ulp at |y|
static double ulp(double y) {
    int e;
    frexp(y, &e);
    return ldexp(1.0, e - 24);
}

static void accuracy(vfun f, int base2, double lo, double hi, double *rel, double *ulps) {
    const int64_t n = 1 << 22;
    *rel = 0, *ulps = 0;
    real in[V_W], out[V_W];
    for (int64_t i = 0; i < n; i += V_W) {
        for (int w = 0; w < V_W; w++)
            in[w] = (real)(lo + (hi - lo) * (double)(i + w) / (double)n);
        v_st(out, f(v_ld(in)));
        for (int w = 0; w < V_W; w++) {
            const double ref = base2 ? exp2((double)in[w]) : exp((double)in[w]);
            if (ref < 0x1p-126) // below float's normal range: flushing is allowed
                continue;
            const double e = fabs((double)out[w] - ref);
            *rel = e / ref > *rel ? e / ref : *rel;
            *ulps = e / ulp(ref) > *ulps ? e / ulp(ref) : *ulps;
        }
    }
}

static double speed(vfun f, double lo, double hi) {
    static real x[N_ARR], y[N_ARR];
    for (int i = 0; i < N_ARR; i++)
        x[i] = (real)(lo + (hi - lo) * (double)i / N_ARR);
    double best = 1e30;
    for (int rep = 0; rep < 7; rep++) {
        const double t0 = bench_now();
        for (int p = 0; p < PASSES; p++) {
            for (int i = 0; i < N_ARR; i += V_W)
                v_st(y + i, f(v_ld(x + i)));
            __asm__ volatile("" : : "r"(y) : "memory"); // keep every pass
        }
        const double t = (bench_now() - t0) / ((double)PASSES * N_ARR) * 1e9;
        best = t < best ? t : best;
    }
    return best;
}

static void row(const char *name, vfun f, int base2, double lo, double hi) {
    double rel, ulps;
    accuracy(f, base2, lo, hi, &rel, &ulps);
    printf("| %s | %s | %d | %.3f | %.2e | %.2f |\n", V_ISA, name, V_W, speed(f, lo, hi), rel, ulps);
}

int main(void) {
    printf("| ISA | function | lanes | ns/element | max rel err | max ulp |\n|---|---|---|---|---|---|\n");
    row("ssmkit v_exp2 (scan)", ours_exp2, 1, -126, 0);
#ifdef HAVE_SLEEF_HERE
    row("SLEEF exp2 u10", sleef_exp2_u10, 1, -126, 0);
    row("SLEEF exp2 u35", sleef_exp2_u35, 1, -126, 0);
#endif
    row("ssmkit v_exp", ours_exp, 0, -87, 0);
#ifdef HAVE_SLEEF_HERE
    row("SLEEF exp u10", sleef_exp_u10, 0, -87, 0);
#else
    printf("(SLEEF not installed: apt-get install libsleef-dev, then make bench, for its columns)\n");
#endif
    return 0;
}
