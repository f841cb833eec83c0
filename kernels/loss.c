// defines: cross_entropy_forward, cross_entropy_backward, mse_forward, mse_backward,
//          soft_cross_entropy_forward, soft_cross_entropy_backward, bce_logits_forward,
//          bce_logits_backward
// Rows are independent; the log-sum-exp of each row is taken in double after
// subtracting the row max, so large logits neither overflow nor lose bits.
#include "kernels/loss.h"

#include <math.h>

#include "kernels/cpu_math.h"

// With target distribution q = (1-eps) onehot(t) + eps/V and log p = l - lse:
//   loss = -sum_j q_j log p_j = lse - (1-eps) l_t - (eps/V) sum_j l_j
// A target outside [0, V) cannot be reported from here (the caller validates
// labels and returns SSM_EDATA); such a row gets a NaN loss, so it is never
// silently trained on, and no out-of-bounds read.
void cross_entropy_forward(real *losses, real *probs, const real *logits, const int32_t *targets,
                           int64_t N, int64_t V, real smoothing) {
#pragma omp parallel for schedule(static) if (N * V >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const real *l = logits + n * V; // [V]
        real *p = probs + n * V;        // [V]
        double mx = -INFINITY, sum = 0, lsum = 0;
        for (int64_t j = 0; j < V; j++)
            if (l[j] > mx)
                mx = l[j];
        for (int64_t j = 0; j < V; j++) {
            double e = exp((double)l[j] - mx);
            p[j] = (real)e; // unnormalised for now
            sum += e;
            lsum += l[j];
        }
        for (int64_t j = 0; j < V; j++)
            p[j] = (real)(p[j] / sum);
        int32_t t = targets[n];
        if (t < 0 || t >= V) {
            losses[n] = (real)NAN;
            continue;
        }
        double lse = mx + log(sum), eps = smoothing;
        losses[n] = (real)(lse - (1 - eps) * l[t] - eps / (double)V * lsum);
    }
}

// d loss / d l_j = p_j - q_j; rows with an invalid target are left untouched.
void cross_entropy_backward(real *dlogits, const real *dloss, const real *probs,
                            const int32_t *targets, int64_t N, int64_t V, real smoothing) {
#pragma omp parallel for schedule(static) if (N * V >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        int32_t t = targets[n];
        if (t < 0 || t >= V)
            continue;
        const real *p = probs + n * V; // [V]
        real *d = dlogits + n * V;     // [V]
        real g = dloss[n], u = smoothing / (real)V;
        for (int64_t j = 0; j < V; j++)
            d[j] += g * (p[j] - u - (j == t ? (real)1 - smoothing : (real)0));
    }
}

void mse_forward(real *losses, const real *pred, const real *target, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        real d = pred[i] - target[i];
        losses[i] = d * d;
    }
}

void mse_backward(real *dpred, const real *dloss, const real *pred, const real *target, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++)
        dpred[i] += dloss[i] * 2 * (pred[i] - target[i]);
}

// The hard-label forward with the one-hot replaced by a distribution: the same max-shifted
// log-sum-exp in double, and sum_j q_j l_j beside it.
void soft_cross_entropy_forward(real *losses, real *probs, const real *logits,
                                const real *target, int64_t N, int64_t V, real smoothing) {
#pragma omp parallel for schedule(static) if (N * V >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const real *l = logits + n * V, *q = target + n * V; // [V]
        real *p = probs + n * V;                             // [V]
        double mx = -INFINITY, sum = 0, ql = 0, lsum = 0;
        for (int64_t j = 0; j < V; j++)
            if (l[j] > mx)
                mx = l[j];
        for (int64_t j = 0; j < V; j++) {
            double e = exp((double)l[j] - mx);
            p[j] = (real)e;
            sum += e;
            ql += (double)q[j] * l[j];
            lsum += l[j];
        }
        for (int64_t j = 0; j < V; j++)
            p[j] = (real)(p[j] / sum);
        double eps = smoothing;
        losses[n] = (real)(mx + log(sum) - (1 - eps) * ql - eps / (double)V * lsum);
    }
}

void soft_cross_entropy_backward(real *dlogits, const real *dloss, const real *probs,
                                 const real *target, int64_t N, int64_t V, real smoothing) {
#pragma omp parallel for schedule(static) if (N * V >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const real *p = probs + n * V, *q = target + n * V; // [V]
        real *d = dlogits + n * V;                          // [V]
        real g = dloss[n], u = smoothing / (real)V, keep = (real)1 - smoothing;
        for (int64_t j = 0; j < V; j++)
            d[j] += g * (p[j] - u - keep * q[j]);
    }
}

// log(1 + exp(-|l|)) never overflows, and max(l, 0) - l y is exact: the form PyTorch uses.
void bce_logits_forward(real *losses, const real *logits, const real *target, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double l = logits[i];
        losses[i] = (real)(fmax(l, 0) - l * (double)target[i] + log1p(exp(-fabs(l))));
    }
}

void bce_logits_backward(real *dlogits, const real *dloss, const real *logits,
                         const real *target, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= R_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        double l = logits[i], e = exp(-fabs(l));
        double s = l >= 0 ? 1 / (1 + e) : e / (1 + e); // sigmoid(l) without overflow
        dlogits[i] += (real)((double)dloss[i] * (s - (double)target[i]));
    }
}
