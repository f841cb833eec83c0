// defines: class_metrics_allreduce, value_metrics_allreduce, score_metrics_allgather,
//          metrics_allreduce_sum, multilabel_metrics_allgather, seg_metrics_allreduce,
//          metrics_allgather_rows (see metrics_reduce.h)
#include "tasks/metrics_reduce.h"

#include <stdlib.h>
#include <string.h>

static int alone(const ssm_dist *d) { return !d || !d->active; }

ssm_code metrics_allreduce_sum(const ssm_dist *d, double *sums, int n_sums, int64_t *counts,
                               int n_counts, ssm_error *err) {
    if (alone(d))
        return SSM_OK;
    if (n_sums > 0)
        SSM_TRY(ssm_dist_allreduce(d, sums, (size_t)n_sums, SSM_DIST_DOUBLE, err));
    if (n_counts > 0)
        SSM_TRY(ssm_dist_allreduce(d, counts, (size_t)n_counts, SSM_DIST_INT64, err));
    return SSM_OK;
}

ssm_code class_metrics_allreduce(class_metrics *m, const ssm_dist *d, ssm_error *err) {
    if (alone(d))
        return SSM_OK;
    return ssm_dist_allreduce(d, m->counts, (size_t)class_metrics_n_counts(m), SSM_DIST_INT64, err);
}

ssm_code value_metrics_allreduce(value_metrics *v, const ssm_dist *d, ssm_error *err) {
    double s[4] = {v->sse, v->sae, v->sse_orig, v->sae_orig};
    int64_t rows = v->rows;
    SSM_TRY(metrics_allreduce_sum(d, s, 4, &rows, 1, err));
    v->sse = s[0], v->sae = s[1], v->sse_orig = s[2], v->sae_orig = s[3];
    v->rows = rows;
    return SSM_OK;
}

ssm_code score_metrics_allgather(score_metrics *s, const ssm_dist *d, ssm_error *err) {
    if (alone(d))
        return SSM_OK;
    const int64_t V = s->V;
    void *prob = NULL, *lab = NULL;
    size_t pb = 0, lb = 0;
    ssm_code rc = ssm_dist_allgatherv(d, s->prob, (size_t)(s->n * V) * sizeof *s->prob, &prob, &pb,
                                      err);
    if (!rc)
        rc = ssm_dist_allgatherv(d, s->labels, (size_t)s->n * sizeof *s->labels, &lab, &lb, err);
    const int64_t n = (int64_t)(lb / sizeof *s->labels);
    if (!rc && pb != (size_t)(n * V) * sizeof *s->prob)
        rc = ssm_fail(err, SSM_EINVAL, "metrics: the ranks gathered %zu probabilities for %lld "
                      "labels of %lld classes", pb / sizeof *s->prob, (long long)n, (long long)V);
    if (rc) {
        free(prob);
        free(lab);
        return rc;
    }
    free(s->prob);
    free(s->labels);
    s->prob = prob; // NULL when no rank kept a score
    s->labels = lab;
    s->n = s->cap = n;
    return SSM_OK;
}

ssm_code metrics_allgather_rows(const ssm_dist *d, void **buf, int64_t *n, size_t row_bytes,
                                ssm_error *err) {
    if (alone(d))
        return SSM_OK;
    void *all = NULL;
    size_t bytes = 0;
    SSM_TRY(ssm_dist_allgatherv(d, *buf, (size_t)*n * row_bytes, &all, &bytes, err));
    if (row_bytes && bytes % row_bytes) {
        free(all);
        return ssm_fail(err, SSM_EINVAL, "metrics: the ranks gathered %zu bytes, not rows of %zu",
                        bytes, row_bytes);
    }
    free(*buf);
    *buf = all;
    *n = row_bytes ? (int64_t)(bytes / row_bytes) : 0;
    return SSM_OK;
}

ssm_code multilabel_metrics_allgather(multilabel_metrics *m, const ssm_dist *d, ssm_error *err) {
    if (alone(d))
        return SSM_OK;
    const size_t K = (size_t)m->K;
    void *prob = NULL, *target = NULL;
    size_t pb = 0, tb = 0;
    ssm_code rc = ssm_dist_allgatherv(d, m->prob, (size_t)m->n * K * sizeof *m->prob, &prob, &pb,
                                      err);
    if (!rc)
        rc = ssm_dist_allgatherv(d, m->target, (size_t)m->n * K * sizeof *m->target, &target, &tb,
                                 err);
    const int64_t n = K ? (int64_t)(tb / (K * sizeof *m->target)) : 0;
    if (!rc && (pb != (size_t)n * K * sizeof *m->prob || tb != (size_t)n * K * sizeof *m->target))
        rc = ssm_fail(err, SSM_EINVAL, "metrics: the ranks gathered %zu scores and %zu targets "
                      "of %zu classes", pb / sizeof *m->prob, tb / sizeof *m->target, K);
    if (rc) {
        free(prob);
        free(target);
        return rc;
    }
    free(m->prob);
    free(m->target);
    m->prob = prob; // NULL when no rank kept a score
    m->target = target;
    m->n = m->cap = n;
    return SSM_OK;
}

ssm_code seg_metrics_allreduce(seg_metrics *m, const ssm_dist *d, ssm_error *err) {
    if (alone(d))
        return SSM_OK;
    const int64_t C = m->n_cat;
    SSM_TRY(ssm_dist_allreduce(d, m->cat_sum, (size_t)C, SSM_DIST_DOUBLE, err));
    SSM_TRY(ssm_dist_allreduce(d, m->cat_n, (size_t)C, SSM_DIST_INT64, err));
    int64_t c[3] = {m->shapes, m->points, m->correct};
    SSM_TRY(metrics_allreduce_sum(d, &m->iou_sum, 1, c, 3, err));
    m->shapes = c[0], m->points = c[1], m->correct = c[2];
    return SSM_OK;
}
