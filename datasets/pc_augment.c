// defines: pc_sample, pc_normalize, pc_augment_apply (see pc_augment.h)
#include "datasets/pc_augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/pointops.h"

// Draw streams of a sample key, apart from each other.
enum { S_SUBSET = 1, S_DROP = 2, S_ROT = 3, S_SCALE = 4, S_JITTER = 5 };

static double unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

static double normal(uint64_t key, uint64_t i) { // Box-Muller from two draws
    double u = unit(key, 2 * i), v = unit(key, 2 * i + 1);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

ssm_code pc_sample(pc_cloud *out, const pc_cloud *in, int64_t num, pc_sampling mode,
                   uint64_t key, ssm_error *err) {
    memset(out, 0, sizeof *out);
    if (num < 1 || in->n < 1)
        return ssm_fail(err, SSM_EINVAL, "point sampling: %lld of %lld points", (long long)num,
                        (long long)in->n);
    int64_t n = in->n, C = in->C, m = num < n ? num : n;
    int32_t *idx = malloc((size_t)m * sizeof *idx);
    real *scratch = mode == PC_SAMPLE_FPS ? malloc((size_t)n * sizeof *scratch) : NULL;
    int64_t *perm = mode == PC_SAMPLE_RANDOM ? malloc((size_t)n * sizeof *perm) : NULL;
    out->p = malloc((size_t)(num * C) * sizeof *out->p);
    out->label = in->label ? malloc((size_t)num * sizeof *out->label) : NULL;
    if (!idx || (mode == PC_SAMPLE_FPS && !scratch) || (mode == PC_SAMPLE_RANDOM && !perm) ||
        !out->p || (in->label && !out->label)) {
        free(idx);
        free(scratch);
        free(perm);
        pc_cloud_free(out);
        return ssm_fail(err, SSM_ENOMEM, "point sampling: out of memory for %lld points",
                        (long long)n);
    }
    if (mode == PC_SAMPLE_FPS) {
        fps_forward(idx, scratch, in->p, 1, n, m, C);
    } else if (mode == PC_SAMPLE_RANDOM) { // the first m steps of a keyed Fisher-Yates
        for (int64_t i = 0; i < n; i++)
            perm[i] = i;
        for (int64_t i = 0; i < m; i++) {
            int64_t j = i + (int64_t)(ssm_seed_derive(ssm_seed_derive(key, S_SUBSET), (uint64_t)i) %
                                      (uint64_t)(n - i));
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            idx[i] = (int32_t)perm[i];
        }
    } else {
        for (int64_t i = 0; i < m; i++)
            idx[i] = (int32_t)i;
    }
    for (int64_t i = 0; i < num; i++) {
        int64_t s = idx[i % m];
        memcpy(out->p + i * C, in->p + s * C, (size_t)C * sizeof *out->p);
        if (out->label)
            out->label[i] = in->label[s];
    }
    free(idx);
    free(scratch);
    free(perm);
    out->n = num;
    out->C = C;
    return SSM_OK;
}

void pc_normalize(real *p, int64_t n, int64_t C) {
    if (n < 1)
        return;
    double c[3] = {0, 0, 0}, r = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++)
            c[j] += p[i * C + j];
    for (int j = 0; j < 3; j++)
        c[j] /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) {
            double d = p[i * C + j] - c[j];
            s += d * d;
        }
        r = s > r ? s : r;
    }
    r = sqrt(r);
    double inv = r > 0 ? 1 / r : 1;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++)
            p[i * C + j] = (real)((p[i * C + j] - c[j]) * inv);
}

static void unit_normal(real *nv) {
    double s = sqrt((double)nv[0] * nv[0] + (double)nv[1] * nv[1] + (double)nv[2] * nv[2]);
    if (s > 0)
        for (int j = 0; j < 3; j++)
            nv[j] = (real)(nv[j] / s);
}

void pc_augment_apply(real *p, int32_t *label, int64_t n, int64_t C, const pc_augment *a,
                      uint64_t key) {
    if (a->dropout > 0 && n > 1) {
        uint64_t k = ssm_seed_derive(key, S_DROP);
        double ratio = unit(k, 0) * a->dropout;
        for (int64_t i = 1; i < n; i++) // the first point stays: it replaces the dropped ones
            if (unit(k, (uint64_t)i) <= ratio) {
                memcpy(p + i * C, p, (size_t)C * sizeof *p);
                if (label)
                    label[i] = label[0];
            }
    }
    if (a->rotate_up) { // about y: x' = c x + s z, z' = -s x + c z (PointNet's rotate_point_cloud)
        double t = 2 * M_PI * unit(ssm_seed_derive(key, S_ROT), 0), c = cos(t), s = sin(t);
        for (int64_t i = 0; i < n; i++)
            for (int64_t off = 0; off + 3 <= C && off <= 3; off += 3) {
                real *q = p + i * C + off;
                double x = q[0], z = q[2];
                q[0] = (real)(c * x + s * z);
                q[2] = (real)(-s * x + c * z);
            }
    }
    if (a->scale_translate) {
        uint64_t k = ssm_seed_derive(key, S_SCALE);
        double sc[3], sh[3];
        for (int j = 0; j < 3; j++) {
            sc[j] = 2.0 / 3 + (1.5 - 2.0 / 3) * unit(k, (uint64_t)j);
            sh[j] = -0.2 + 0.4 * unit(k, 3 + (uint64_t)j);
        }
        for (int64_t i = 0; i < n; i++) {
            real *q = p + i * C;
            for (int j = 0; j < 3; j++)
                q[j] = (real)(q[j] * sc[j] + sh[j]);
            if (C >= 6) {
                for (int j = 0; j < 3; j++)
                    q[3 + j] = (real)(q[3 + j] / sc[j]);
                unit_normal(q + 3);
            }
        }
    }
    if (a->jitter > 0) {
        uint64_t k = ssm_seed_derive(key, S_JITTER);
        double clip = 5 * a->jitter;
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < 3; j++) {
                double d = a->jitter * normal(k, (uint64_t)(i * 3 + j));
                d = d > clip ? clip : d < -clip ? -clip : d;
                p[i * C + j] = (real)(p[i * C + j] + d);
            }
    }
}
