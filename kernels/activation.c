// defines: silu_forward, silu_backward, softplus_forward, softplus_backward,
//          gate_forward, gate_backward, add_forward, scale_inplace (see activation.h)
// Elementwise, so any split over threads gives the same bits.
#include "kernels/activation.h"

#include "kernels/cpu_math.h"

void silu_forward(real *out, const real *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = r_silu(x[i]);
}

void silu_backward(real *dx, const real *dout, const real *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] += dout[i] * r_silu_grad(x[i]);
}

void softplus_forward(real *out, const real *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = r_softplus(x[i]);
}

void softplus_backward(real *dx, const real *dout, const real *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dx[i] += dout[i] * r_softplus_grad(x[i]);
}

void gate_forward(real *out, const real *y, const real *z, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = y[i] * r_silu(z[i]);
}

// Either gradient may be NULL (not needed).
void gate_backward(real *dy, real *dz, const real *dout, const real *y, const real *z, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        real s = r_sigmoid(z[i]);
        if (dy)
            dy[i] += dout[i] * z[i] * s;
        if (dz)
            dz[i] += dout[i] * y[i] * s * ((real)1 + z[i] * ((real)1 - s));
    }
}

void add_forward(real *out, const real *a, const real *b, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void scale_inplace(real *x, real s, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        x[i] *= s;
}
