// defines: the classification metrics (see metrics.h)
#include "tasks/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssm_code class_metrics_init(class_metrics *m, int64_t num_classes, int64_t k, ssm_error *err) {
    memset(m, 0, sizeof *m);
    if (num_classes < 1 || num_classes > (1 << 20))
        return ssm_fail(err, SSM_EINVAL, "metrics: %lld classes, expected 1..%d",
                        (long long)num_classes, 1 << 20);
    if (k < 1)
        return ssm_fail(err, SSM_EINVAL, "metrics: top-k with k = %lld, expected >= 1", (long long)k);
    m->num_classes = num_classes;
    m->k = k < num_classes ? k : num_classes;
    size_t n = (size_t)(num_classes * num_classes + 2);
    m->counts = calloc(n, sizeof *m->counts);
    if (!m->counts)
        return ssm_fail(err, SSM_ENOMEM, "metrics: out of memory for a %lld-class confusion matrix",
                        (long long)num_classes);
    m->confusion = m->counts;
    m->n = m->counts + num_classes * num_classes;
    m->topk_correct = m->n + 1;
    return SSM_OK;
}

void class_metrics_free(class_metrics *m) {
    free(m->counts);
    memset(m, 0, sizeof *m);
}

void class_metrics_reset(class_metrics *m) {
    memset(m->counts, 0, (size_t)class_metrics_n_counts(m) * sizeof *m->counts);
}

static ssm_code check_labels(const class_metrics *m, const int32_t *labels, int64_t B,
                             const char *what, ssm_error *err) {
    for (int64_t b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= m->num_classes)
            return ssm_fail(err, SSM_EDATA, "metrics: sample %lld of the batch has %s %d, "
                            "expected 0..%lld", (long long)b, what, labels[b],
                            (long long)m->num_classes - 1);
    return SSM_OK;
}

ssm_code class_metrics_add(class_metrics *m, const real *logits, const int32_t *labels, int64_t B,
                           ssm_error *err) {
    int64_t V = m->num_classes;
    SSM_TRY(check_labels(m, labels, B, "label", err));
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < V; j++)
            if (isnan(logits[b * V + j]))
                return ssm_fail(err, SSM_EDATA, "metrics: sample %lld of the batch has a NaN logit "
                                "(class %lld)", (long long)b, (long long)j);
    for (int64_t b = 0; b < B; b++) {
        const real *z = logits + b * V;
        int64_t y = labels[b], pred = 0, above = 0;
        for (int64_t j = 1; j < V; j++)
            if (z[j] > z[pred])
                pred = j;
        for (int64_t j = 0; j < V; j++)
            above += z[j] > z[y] || (z[j] == z[y] && j < y);
        m->confusion[y * V + pred]++;
        *m->topk_correct += above < m->k;
        (*m->n)++;
    }
    return SSM_OK;
}

ssm_code class_metrics_add_predictions(class_metrics *m, const int32_t *pred,
                                       const int32_t *labels, int64_t B, ssm_error *err) {
    int64_t V = m->num_classes;
    SSM_TRY(check_labels(m, labels, B, "label", err));
    SSM_TRY(check_labels(m, pred, B, "prediction", err));
    for (int64_t b = 0; b < B; b++) {
        m->confusion[labels[b] * V + pred[b]]++;
        *m->topk_correct += labels[b] == pred[b];
        (*m->n)++;
    }
    return SSM_OK;
}

ssm_code class_metrics_merge(class_metrics *dst, const class_metrics *src, ssm_error *err) {
    if (dst->num_classes != src->num_classes || dst->k != src->k)
        return ssm_fail(err, SSM_EINVAL, "metrics: merging %lld classes (top-%lld) into %lld (top-%lld)",
                        (long long)src->num_classes, (long long)src->k,
                        (long long)dst->num_classes, (long long)dst->k);
    for (int64_t i = 0; i < class_metrics_n_counts(dst); i++)
        dst->counts[i] += src->counts[i];
    return SSM_OK;
}

double class_metrics_accuracy(const class_metrics *m) {
    if (*m->n == 0)
        return NAN;
    int64_t V = m->num_classes, tp = 0;
    for (int64_t i = 0; i < V; i++)
        tp += m->confusion[i * V + i];
    return (double)tp / (double)*m->n;
}

double class_metrics_topk_accuracy(const class_metrics *m) {
    return *m->n ? (double)*m->topk_correct / (double)*m->n : NAN;
}

double class_metrics_macro_f1(const class_metrics *m) {
    if (*m->n == 0)
        return NAN;
    int64_t V = m->num_classes;
    double sum = 0;
    int64_t present = 0;
    for (int64_t c = 0; c < V; c++) {
        int64_t tp = m->confusion[c * V + c], row = 0, col = 0;
        for (int64_t j = 0; j < V; j++) {
            row += m->confusion[c * V + j]; // TP + FN
            col += m->confusion[j * V + c]; // TP + FP
        }
        if (row == 0 && col == 0)
            continue; // neither a label nor a prediction: not part of the average
        sum += 2.0 * (double)tp / (double)(row + col);
        present++;
    }
    return sum / (double)present;
}

void class_metrics_per_class_accuracy(const class_metrics *m, double *out) {
    int64_t V = m->num_classes;
    for (int64_t c = 0; c < V; c++) {
        int64_t row = 0;
        for (int64_t j = 0; j < V; j++)
            row += m->confusion[c * V + j];
        out[c] = row ? (double)m->confusion[c * V + c] / (double)row : NAN;
    }
}

double class_metrics_balanced_accuracy(const class_metrics *m) {
    if (*m->n == 0)
        return NAN;
    int64_t V = m->num_classes, present = 0;
    double sum = 0;
    for (int64_t c = 0; c < V; c++) {
        int64_t row = 0;
        for (int64_t j = 0; j < V; j++)
            row += m->confusion[c * V + j];
        if (row == 0)
            continue; // not a label: not part of the average
        sum += (double)m->confusion[c * V + c] / (double)row;
        present++;
    }
    return sum / (double)present;
}

// A CSV field: quoted (with "" for ") when it holds a comma, quote or newline.
static void put_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_name(FILE *f, const char *const *names, int64_t c) {
    if (names && names[c])
        put_field(f, names[c]);
    else
        fprintf(f, "%lld", (long long)c);
}

ssm_code class_metrics_write_confusion_csv(const class_metrics *m, const char *path,
                                           const char *const *names, ssm_error *err) {
    int64_t V = m->num_classes;
    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, len + 5, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        ssm_code rc = ssm_fail(err, SSM_EIO, "%s: cannot open for writing: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    fputs("true\\pred", f);
    for (int64_t c = 0; c < V; c++) {
        fputc(',', f);
        put_name(f, names, c);
    }
    fputc('\n', f);
    for (int64_t r = 0; r < V; r++) {
        put_name(f, names, r);
        for (int64_t c = 0; c < V; c++)
            fprintf(f, ",%lld", (long long)m->confusion[r * V + c]);
        fputc('\n', f);
    }
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            saved = errno;
        remove(tmp);
        ssm_code rc = ssm_fail(err, SSM_EIO, "%s: write failed: %s", path, strerror(saved));
        free(tmp);
        return rc;
    }
    free(tmp);
    return SSM_OK;
}

void task_metrics_set(task_metrics *m, const char *key, double v) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key)) {
            m->value[i] = v;
            return;
        }
    if (m->n == TASK_MAX_METRICS)
        return;
    snprintf(m->key[m->n], TASK_METRIC_KEY_MAX, "%s", key);
    m->value[m->n++] = v;
}

double task_metrics_get(const task_metrics *m, const char *key) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key))
            return m->value[i];
    return NAN;
}

ssm_code value_metrics_init(value_metrics *v, int64_t K, const double *std, ssm_error *err) {
    memset(v, 0, sizeof *v);
    v->K = K;
    if (!std)
        return SSM_OK;
    v->std = malloc((size_t)K * sizeof *v->std);
    if (!v->std)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    memcpy(v->std, std, (size_t)K * sizeof *v->std);
    return SSM_OK;
}

void value_metrics_free(value_metrics *v) {
    free(v->std);
    memset(v, 0, sizeof *v);
}

void value_metrics_reset(value_metrics *v) {
    v->sse = v->sae = v->sse_orig = v->sae_orig = 0;
    v->rows = 0;
}

void value_metrics_add(value_metrics *v, const real *pred, const real *y, int64_t rows) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < v->K; j++) {
            double d = (double)pred[r * v->K + j] - (double)y[r * v->K + j];
            double s = v->std ? v->std[j] : 1.0;
            v->sse += d * d;
            v->sae += fabs(d);
            v->sse_orig += d * d * s * s;
            v->sae_orig += fabs(d) * s;
        }
    v->rows += rows;
}

void value_metrics_report(const value_metrics *v, int mae_loss, task_metrics *out) {
    double cnt = (double)v->rows * (double)v->K;
    double mse = v->rows ? v->sse / cnt : NAN, mae = v->rows ? v->sae / cnt : NAN;
    task_metrics_set(out, "loss", mae_loss ? mae : mse);
    task_metrics_set(out, "mse", mse);
    task_metrics_set(out, "mae", mae);
    task_metrics_set(out, "mse_orig", v->rows ? v->sse_orig / cnt : NAN);
    task_metrics_set(out, "mae_orig", v->rows ? v->sae_orig / cnt : NAN);
}

// ---- ROC AUC ---------------------------------------------------------------------------

typedef struct {
    double score;
    uint8_t positive;
} ranked;

static int by_score(const void *pa, const void *pb) {
    double a = ((const ranked *)pa)->score, b = ((const ranked *)pb)->score;
    return (a > b) - (a < b);
}

double roc_auc_binary(const double *score, const uint8_t *positive, int64_t n) {
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i]))
            return NAN;
        npos += positive[i] != 0;
    }
    if (npos == 0 || npos == n)
        return NAN;
    ranked *r = malloc((size_t)n * sizeof *r);
    if (!r)
        return NAN;
    for (int64_t i = 0; i < n; i++)
        r[i] = (ranked){score[i], positive[i] != 0};
    qsort(r, (size_t)n, sizeof *r, by_score);
    // the positives' rank sum, ties at their average rank (ranks from 1)
    double rank_sum = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, pos = 0;
        while (j < n && r[j].score == r[i].score)
            pos += r[j++].positive;
        rank_sum += (double)pos * ((double)(i + 1) + (double)j) / 2;
        i = j;
    }
    free(r);
    double nneg = (double)(n - npos);
    return (rank_sum - (double)npos * ((double)npos + 1) / 2) / ((double)npos * nneg);
}

double roc_auc_ovr_macro(const double *prob, const int32_t *labels, int64_t n, int64_t V) {
    double *col = malloc((size_t)(n ? n : 1) * sizeof *col);
    uint8_t *pos = malloc((size_t)(n ? n : 1));
    double sum = 0;
    int64_t defined = 0;
    for (int64_t c = 0; col && pos && c < V; c++) {
        for (int64_t i = 0; i < n; i++) {
            col[i] = prob[i * V + c];
            pos[i] = labels[i] == c;
        }
        double auc = roc_auc_binary(col, pos, n);
        if (!isnan(auc)) {
            sum += auc;
            defined++;
        }
    }
    free(col);
    free(pos);
    return defined ? sum / (double)defined : NAN;
}

ssm_code score_metrics_init(score_metrics *s, int64_t num_classes, ssm_error *err) {
    memset(s, 0, sizeof *s);
    if (num_classes < 2 || num_classes > (1 << 20))
        return ssm_fail(err, SSM_EINVAL, "metrics: AUC over %lld classes, expected 2..%d",
                        (long long)num_classes, 1 << 20);
    s->V = num_classes;
    return SSM_OK;
}

void score_metrics_free(score_metrics *s) {
    free(s->prob);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

void score_metrics_reset(score_metrics *s) { s->n = 0; }

ssm_code score_metrics_add(score_metrics *s, const real *logits, const int32_t *labels,
                           int64_t B, ssm_error *err) {
    int64_t V = s->V;
    for (int64_t b = 0; b < B; b++) {
        if (labels[b] < 0 || labels[b] >= V)
            return ssm_fail(err, SSM_EDATA, "metrics: sample %lld of the batch has label %d, "
                            "expected 0..%lld", (long long)b, labels[b], (long long)V - 1);
        for (int64_t j = 0; j < V; j++)
            if (isnan(logits[b * V + j]))
                return ssm_fail(err, SSM_EDATA, "metrics: sample %lld of the batch has a NaN "
                                "logit (class %lld)", (long long)b, (long long)j);
    }
    if (s->n + B > s->cap) {
        int64_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + B)
            cap *= 2;
        double *prob = realloc(s->prob, (size_t)(cap * V) * sizeof *prob);
        if (prob)
            s->prob = prob;
        int32_t *lab = prob ? realloc(s->labels, (size_t)cap * sizeof *lab) : NULL;
        if (!prob || !lab)
            return ssm_fail(err, SSM_ENOMEM, "metrics: out of memory keeping %lld scores",
                            (long long)(s->n + B));
        s->labels = lab;
        s->cap = cap;
    }
    for (int64_t b = 0; b < B; b++) {
        const real *z = logits + b * V;
        double *p = s->prob + (s->n + b) * V, m = z[0], sum = 0;
        for (int64_t j = 1; j < V; j++)
            m = z[j] > m ? z[j] : m;
        for (int64_t j = 0; j < V; j++)
            sum += p[j] = exp((double)z[j] - m);
        for (int64_t j = 0; j < V; j++)
            p[j] /= sum;
        s->labels[s->n + b] = labels[b];
    }
    s->n += B;
    return SSM_OK;
}

double score_metrics_auc(const score_metrics *s) {
    if (s->n == 0)
        return NAN;
    if (s->V > 2)
        return roc_auc_ovr_macro(s->prob, s->labels, s->n, s->V);
    double *p1 = malloc((size_t)s->n * sizeof *p1);
    uint8_t *pos = malloc((size_t)s->n);
    double auc = NAN;
    if (p1 && pos) {
        for (int64_t i = 0; i < s->n; i++) {
            p1[i] = s->prob[i * 2 + 1];
            pos[i] = s->labels[i] == 1;
        }
        auc = roc_auc_binary(p1, pos, s->n);
    }
    free(p1);
    free(pos);
    return auc;
}

// ---- multi-label: average precision, mAP, macro AUC, micro-F1 --------------------------

double average_precision_binary(const double *score, const uint8_t *positive, int64_t n) {
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i]))
            return NAN;
        npos += positive[i] != 0;
    }
    if (npos == 0)
        return NAN;
    ranked *r = malloc((size_t)n * sizeof *r);
    if (!r)
        return NAN;
    for (int64_t i = 0; i < n; i++)
        r[i] = (ranked){score[i], positive[i] != 0};
    qsort(r, (size_t)n, sizeof *r, by_score); // ascending: walk from the end
    double ap = 0;
    int64_t tp = 0, seen = 0;
    for (int64_t i = n - 1; i >= 0;) {
        int64_t j = i, pos = 0;
        while (j >= 0 && r[j].score == r[i].score)
            pos += r[j--].positive;
        seen += i - j;
        tp += pos;
        // recall gained pos / npos, at the precision of everything scored >= this threshold
        ap += (double)pos / (double)npos * ((double)tp / (double)seen);
        i = j;
    }
    free(r);
    return ap;
}

ssm_code multilabel_metrics_init(multilabel_metrics *m, int64_t K, double threshold,
                                 ssm_error *err) {
    memset(m, 0, sizeof *m);
    if (K < 1 || K > (1 << 20))
        return ssm_fail(err, SSM_EINVAL, "metrics: %lld labels, expected 1..%d", (long long)K,
                        1 << 20);
    m->K = K;
    m->threshold = threshold;
    return SSM_OK;
}

void multilabel_metrics_free(multilabel_metrics *m) {
    free(m->prob);
    free(m->target);
    memset(m, 0, sizeof *m);
}

void multilabel_metrics_reset(multilabel_metrics *m) { m->n = 0; }

ssm_code multilabel_metrics_add(multilabel_metrics *m, const real *logits, const real *targets,
                                int64_t B, ssm_error *err) {
    const int64_t K = m->K;
    for (int64_t i = 0; i < B * K; i++) {
        if (isnan(logits[i]))
            return ssm_fail(err, SSM_EDATA, "metrics: sample %lld of the batch has a NaN logit "
                            "(class %lld)", (long long)(i / K), (long long)(i % K));
        if (!(targets[i] >= 0 && targets[i] <= 1))
            return ssm_fail(err, SSM_EDATA, "metrics: sample %lld of the batch has target %g "
                            "for class %lld, expected 0..1", (long long)(i / K),
                            (double)targets[i], (long long)(i % K));
    }
    if (m->n + B > m->cap) {
        int64_t cap = m->cap ? m->cap : 64;
        while (cap < m->n + B)
            cap *= 2;
        double *prob = realloc(m->prob, (size_t)(cap * K) * sizeof *prob);
        if (prob)
            m->prob = prob;
        uint8_t *tg = prob ? realloc(m->target, (size_t)(cap * K)) : NULL;
        if (!prob || !tg)
            return ssm_fail(err, SSM_ENOMEM, "metrics: out of memory keeping %lld x %lld scores",
                            (long long)(m->n + B), (long long)K);
        m->target = tg;
        m->cap = cap;
    }
    double *p = m->prob + m->n * K;
    uint8_t *t = m->target + m->n * K;
    for (int64_t i = 0; i < B * K; i++) {
        double l = logits[i], e = exp(-fabs(l));
        p[i] = l >= 0 ? 1 / (1 + e) : e / (1 + e);
        t[i] = targets[i] >= 0.5;
    }
    m->n += B;
    return SSM_OK;
}

void multilabel_metrics_summarize(const multilabel_metrics *m, multilabel_summary *s,
                                  double *ap, double *auc, int64_t *positives) {
    const int64_t K = m->K, n = m->n;
    *s = (multilabel_summary){.map = NAN, .auc = NAN, .micro_f1 = NAN};
    double *col = malloc((size_t)(n ? n : 1) * sizeof *col);
    uint8_t *pos = malloc((size_t)(n ? n : 1));
    double ap_sum = 0, auc_sum = 0;
    int64_t tp = 0, fp = 0, fn = 0;
    for (int64_t k = 0; k < K; k++) {
        int64_t np = 0;
        for (int64_t i = 0; col && pos && i < n; i++) {
            col[i] = m->prob[i * K + k];
            pos[i] = m->target[i * K + k];
            np += pos[i];
            int pred = col[i] >= m->threshold;
            tp += pred && pos[i];
            fp += pred && !pos[i];
            fn += !pred && pos[i];
        }
        double a = col && pos && n ? average_precision_binary(col, pos, n) : NAN;
        double u = col && pos && n ? roc_auc_binary(col, pos, n) : NAN;
        if (!isnan(a)) {
            ap_sum += a;
            s->ap_classes++;
        }
        if (!isnan(u)) {
            auc_sum += u;
            s->auc_classes++;
        }
        if (ap)
            ap[k] = a;
        if (auc)
            auc[k] = u;
        if (positives)
            positives[k] = np;
    }
    free(col);
    free(pos);
    if (s->ap_classes)
        s->map = ap_sum / (double)s->ap_classes;
    if (s->auc_classes)
        s->auc = auc_sum / (double)s->auc_classes;
    if (2 * tp + fp + fn > 0)
        s->micro_f1 = 2.0 * (double)tp / (double)(2 * tp + fp + fn);
}
