// defines: the part-segmentation metrics (see metrics_seg.h)
#include "tasks/metrics_seg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ssm_code seg_metrics_init(seg_metrics *m, int64_t n_cat, const int32_t *range, int64_t P,
                          ssm_error *err) {
    memset(m, 0, sizeof *m);
    if (n_cat < 1 || P < 1 || !range)
        return ssm_fail(err, SSM_EINVAL, "segmentation metrics: %lld categories of %lld parts",
                        (long long)n_cat, (long long)P);
    for (int64_t c = 0; c < n_cat; c++)
        if (range[2 * c] < 0 || range[2 * c + 1] < 1 || range[2 * c] + range[2 * c + 1] > P)
            return ssm_fail(err, SSM_EINVAL, "segmentation metrics: category %lld has parts "
                            "%d..%d, outside 0..%lld", (long long)c, range[2 * c],
                            range[2 * c] + range[2 * c + 1] - 1, (long long)P - 1);
    m->n_cat = n_cat;
    m->P = P;
    m->range = malloc((size_t)(2 * n_cat) * sizeof *m->range);
    m->cat_sum = calloc((size_t)n_cat, sizeof *m->cat_sum);
    m->cat_n = calloc((size_t)n_cat, sizeof *m->cat_n);
    if (!m->range || !m->cat_sum || !m->cat_n) {
        seg_metrics_free(m);
        return ssm_fail(err, SSM_ENOMEM, "segmentation metrics: out of memory");
    }
    memcpy(m->range, range, (size_t)(2 * n_cat) * sizeof *m->range);
    return SSM_OK;
}

void seg_metrics_free(seg_metrics *m) {
    free(m->range);
    free(m->cat_sum);
    free(m->cat_n);
    free(m->pred);
    memset(m, 0, sizeof *m);
}

void seg_metrics_reset(seg_metrics *m) {
    memset(m->cat_sum, 0, (size_t)m->n_cat * sizeof *m->cat_sum);
    memset(m->cat_n, 0, (size_t)m->n_cat * sizeof *m->cat_n);
    m->iou_sum = 0;
    m->shapes = m->points = m->correct = 0;
}

void seg_predict_masked(int32_t *pred, const real *logits, int64_t N, int64_t P, int32_t first,
                        int32_t count) {
    for (int64_t i = 0; i < N; i++) {
        const real *l = logits + i * P + first;
        int32_t best = 0;
        for (int32_t j = 1; j < count; j++)
            best = l[j] > l[best] ? j : best;
        pred[i] = first + best;
    }
}

double seg_shape_iou(const int32_t *pred, const int32_t *labels, int64_t N, int32_t first,
                     int32_t count) {
    double s = 0;
    for (int32_t p = first; p < first + count; p++) {
        int64_t inter = 0, uni = 0;
        for (int64_t i = 0; i < N; i++) {
            int a = pred[i] == p, b = labels[i] == p;
            inter += a && b;
            uni += a || b;
        }
        s += uni ? (double)inter / (double)uni : 1.0;
    }
    return s / count;
}

ssm_code seg_metrics_add(seg_metrics *m, const real *logits, const int32_t *cats,
                         const int32_t *labels, int64_t B, int64_t N, ssm_error *err) {
    for (int64_t b = 0; b < B; b++) {
        if (cats[b] < 0 || cats[b] >= m->n_cat)
            return ssm_fail(err, SSM_EDATA, "shape %lld of the batch: category %d, expected "
                            "0..%lld", (long long)b, cats[b], (long long)m->n_cat - 1);
        int32_t lo = m->range[2 * cats[b]], hi = lo + m->range[2 * cats[b] + 1];
        for (int64_t i = 0; i < N; i++) {
            int32_t y = labels[b * N + i];
            if (y < lo || y >= hi)
                return ssm_fail(err, SSM_EDATA, "shape %lld of the batch, point %lld: part %d, "
                                "expected %d..%d (the parts of category %d)", (long long)b,
                                (long long)i, y, lo, hi - 1, cats[b]);
        }
        for (int64_t j = 0; j < N * m->P; j++)
            if (isnan(logits[b * N * m->P + j]))
                return ssm_fail(err, SSM_EDATA, "shape %lld of the batch, point %lld: a NaN "
                                "logit", (long long)b, (long long)(j / m->P));
    }
    if (N > m->N) {
        int32_t *np = realloc(m->pred, (size_t)N * sizeof *np);
        if (!np)
            return ssm_fail(err, SSM_ENOMEM, "segmentation metrics: out of memory");
        m->pred = np;
        m->N = N;
    }
    for (int64_t b = 0; b < B; b++) {
        int32_t c = cats[b], lo = m->range[2 * c], n = m->range[2 * c + 1];
        const int32_t *y = labels + b * N;
        seg_predict_masked(m->pred, logits + b * N * m->P, N, m->P, lo, n);
        double iou = seg_shape_iou(m->pred, y, N, lo, n);
        for (int64_t i = 0; i < N; i++)
            m->correct += m->pred[i] == y[i];
        m->points += N;
        m->iou_sum += iou;
        m->shapes++;
        m->cat_sum[c] += iou;
        m->cat_n[c]++;
    }
    return SSM_OK;
}

double seg_metrics_instance_miou(const seg_metrics *m) {
    return m->shapes ? m->iou_sum / (double)m->shapes : NAN;
}

double seg_metrics_class_miou(const seg_metrics *m) {
    double s = 0;
    int64_t k = 0;
    for (int64_t c = 0; c < m->n_cat; c++)
        if (m->cat_n[c]) {
            s += m->cat_sum[c] / (double)m->cat_n[c];
            k++;
        }
    return k ? s / (double)k : NAN;
}

double seg_metrics_accuracy(const seg_metrics *m) {
    return m->points ? (double)m->correct / (double)m->points : NAN;
}
