// defines: series_layout_from_path, series_borders, series_dataset_build, series_dataset_load,
//          series_dataset_free, series_split_get, series_window, series_batch,
//          series_inverse_transform, series_split_name
#include "datasets/series_split.h"

#include "datasets/series_time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *series_split_name(series_split_id id) {
    switch (id) {
    case SERIES_TRAIN: return "train";
    case SERIES_VAL: return "val";
    case SERIES_TEST: return "test";
    }
    return "?";
}

series_layout series_layout_from_path(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "ETTh", 4) == 0)
        return SERIES_ETTH;
    if (strncmp(base, "ETTm", 4) == 0)
        return SERIES_ETTM;
    return SERIES_CUSTOM;
}

ssm_code series_borders(int64_t b1[3], int64_t b2[3], series_layout layout, int64_t rows,
                        int64_t lookback, ssm_error *e) {
    if (layout == SERIES_ETTH || layout == SERIES_ETTM) {
        // Dataset_ETT_hour / _minute: 12 months train, 4 val, 4 test, a month = 30 days;
        // rows past the 20 months are not used (as in the reference)
        const int64_t month = 30 * 24 * (layout == SERIES_ETTM ? 4 : 1);
        b1[0] = 0;
        b1[1] = 12 * month - lookback;
        b1[2] = 12 * month + 4 * month - lookback;
        b2[0] = 12 * month;
        b2[1] = 12 * month + 4 * month;
        b2[2] = 12 * month + 8 * month;
        if (rows < b2[2])
            return ssm_fail(e, SSM_EDATA, "the %s split needs at least %lld rows (20 months of 30 "
                            "days), the file has %lld", layout == SERIES_ETTM ? "ETTm" : "ETTh",
                            (long long)b2[2], (long long)rows);
    } else {
        // Dataset_Custom: int() truncation of a double product, as Python's int(len * 0.7)
        const int64_t num_train = (int64_t)((double)rows * 0.7);
        const int64_t num_test = (int64_t)((double)rows * 0.2);
        const int64_t num_vali = rows - num_train - num_test;
        b1[0] = 0;
        b1[1] = num_train - lookback;
        b1[2] = rows - num_test - lookback;
        b2[0] = num_train;
        b2[1] = num_train + num_vali;
        b2[2] = rows;
    }
    for (int k = 0; k < 3; k++)
        if (b1[k] < 0)
            return ssm_fail(e, SSM_EDATA, "the %s split would start at row %lld: lookback %lld is "
                            "longer than the %lld rows before it", series_split_name(k),
                            (long long)b1[k], (long long)lookback, (long long)(b1[k] + lookback));
    return SSM_OK;
}

static int64_t window_count(int64_t begin, int64_t end, int64_t lookback, int64_t horizon,
                            int64_t stride) {
    const int64_t span = end - begin - lookback - horizon;
    return span < 0 ? 0 : span / stride + 1;
}

// The calendar features of every row from its date (series_time.h).
static ssm_code build_marks(series_dataset *d, const series_table *t, ssm_error *e) {
    const int64_t F = SERIES_TIME_FEATURES;
    if (!t->dates) {
        series_dataset_free(d);
        return ssm_fail(e, SSM_EINVAL, "time features need the table's date column");
    }
    d->marks = malloc((size_t)d->rows * (size_t)F * sizeof *d->marks);
    if (!d->marks) {
        series_dataset_free(d);
        return ssm_fail(e, SSM_ENOMEM, "out of memory for %lld x %lld time features",
                        (long long)d->rows, (long long)F);
    }
    for (int64_t r = 0; r < d->rows; r++) {
        series_date dt;
        const ssm_code rc = series_date_parse(&dt, t->dates[r], e);
        if (rc != SSM_OK) {
            series_dataset_free(d);
            // rows follow the header line directly (series_csv.h refuses blank lines)
            if (e)
                ssm_error_prefix(e, "line %lld, column '%s': ", (long long)(r + 2),
                                 t->date_name ? t->date_name : "date");
            return rc;
        }
        series_time_features(d->marks + r * F, &dt);
    }
    d->time_feats = F;
    d->x_vars = F + d->in_vars;
    return SSM_OK;
}

ssm_code series_dataset_build(series_dataset *d, const series_table *t, const series_opts *o,
                              ssm_error *e) {
    memset(d, 0, sizeof *d);
    const int64_t stride = o->stride == 0 ? 1 : o->stride;
    if (o->lookback < 1 || o->horizon < 1 || stride < 1)
        return ssm_fail(e, SSM_EINVAL, "lookback %lld, horizon %lld, stride %lld: expected all >= 1",
                        (long long)o->lookback, (long long)o->horizon, (long long)stride);
    if (o->mode != SERIES_M && o->mode != SERIES_S && o->mode != SERIES_MS)
        return ssm_fail(e, SSM_EINVAL, "mode %d: expected M, S or MS", (int)o->mode);
    if (t->rows < 1 || t->vars < 1)
        return ssm_fail(e, SSM_EINVAL, "table of %lld rows x %lld variates: expected at least one "
                        "of each", (long long)t->rows, (long long)t->vars);
    const char *target = o->target ? o->target : "OT";
    const int64_t tcol = series_table_find(t, target);
    if (tcol < 0)
        return ssm_fail(e, SSM_ENOTFOUND, "target column '%s' not found among the %lld variates "
                        "(first '%s', last '%s')", target, (long long)t->vars, t->names[0],
                        t->names[t->vars - 1]);
    int64_t b1[3], b2[3];
    SSM_TRY(series_borders(b1, b2, o->layout, t->rows, o->lookback, e));
    for (int k = 0; k < 3; k++)
        if (window_count(b1[k], b2[k], o->lookback, o->horizon, stride) < 1)
            return ssm_fail(e, SSM_EDATA, "the %s split (rows %lld..%lld, %lld rows) has no window "
                            "of lookback %lld + horizon %lld", series_split_name(k),
                            (long long)b1[k], (long long)b2[k], (long long)(b2[k] - b1[k]),
                            (long long)o->lookback, (long long)o->horizon);

    // columns: Dataset_Custom's order, every variate but the target, then the target
    d->vars = o->mode == SERIES_S ? 1 : t->vars;
    d->in_vars = d->vars;
    d->out_vars = o->mode == SERIES_M ? d->vars : 1;
    d->rows = t->rows;
    d->mode = o->mode;
    d->lookback = o->lookback;
    d->horizon = o->horizon;
    d->stride = stride;
    memcpy(d->border1, b1, sizeof b1);
    memcpy(d->border2, b2, sizeof b2);
    int64_t *src = malloc((size_t)d->vars * sizeof *src);
    d->names = calloc((size_t)d->vars, sizeof *d->names);
    d->mean = malloc((size_t)d->vars * sizeof *d->mean);
    d->std = malloc((size_t)d->vars * sizeof *d->std);
    d->data = malloc((size_t)d->rows * (size_t)d->vars * sizeof *d->data);
    if (!src || !d->names || !d->mean || !d->std || !d->data) {
        free(src);
        series_dataset_free(d);
        return ssm_fail(e, SSM_ENOMEM, "out of memory for %lld x %lld values", (long long)t->rows,
                        (long long)d->vars);
    }
    int64_t k = 0;
    if (o->mode != SERIES_S)
        for (int64_t c = 0; c < t->vars; c++)
            if (c != tcol)
                src[k++] = c;
    src[k] = tcol;
    for (int64_t c = 0; c < d->vars; c++) {
        d->names[c] = strdup(t->names[src[c]]);
        if (!d->names[c]) {
            free(src);
            series_dataset_free(d);
            return ssm_fail(e, SSM_ENOMEM, "out of memory");
        }
    }
    // StandardScaler fitted on the training rows [border1[0], border2[0]): mean and
    // population std (sklearn's ddof=0), two passes for accuracy; a constant column
    // gets scale 1 as sklearn does
    const int64_t r0 = b1[0], r1 = b2[0];
    for (int64_t c = 0; c < d->vars; c++) {
        const double *col = t->values + src[c];
        double mean = 0, ss = 0, lo = col[r0 * t->vars], hi = lo;
        for (int64_t r = r0; r < r1; r++)
            mean += col[r * t->vars];
        mean /= (double)(r1 - r0);
        for (int64_t r = r0; r < r1; r++) {
            const double v = col[r * t->vars], dv = v - mean;
            ss += dv * dv;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        double sd = sqrt(ss / (double)(r1 - r0));
        if (lo == hi || sd == 0)
            sd = 1;
        d->mean[c] = o->scale ? mean : 0;
        d->std[c] = o->scale ? sd : 1;
    }
    for (int64_t r = 0; r < d->rows; r++)
        for (int64_t c = 0; c < d->vars; c++)
            d->data[r * d->vars + c] = (t->values[r * t->vars + src[c]] - d->mean[c]) / d->std[c];
    free(src);
    d->x_vars = d->in_vars;
    if (o->time_features)
        return build_marks(d, t, e);
    return SSM_OK;
}

ssm_code series_dataset_load(series_dataset *d, const char *path, const series_opts *o,
                             ssm_error *e) {
    memset(d, 0, sizeof *d);
    series_table t;
    SSM_TRY(series_csv_read(&t, path, e));
    ssm_code rc = series_dataset_build(d, &t, o, e);
    series_table_free(&t);
    if (rc != SSM_OK)
        ssm_error_prefix(e, "%s: ", path);
    return rc;
}

void series_dataset_free(series_dataset *d) {
    if (d->names)
        for (int64_t c = 0; c < d->vars; c++)
            free(d->names[c]);
    free(d->names);
    free(d->data);
    free(d->mean);
    free(d->std);
    free(d->marks);
    memset(d, 0, sizeof *d);
}

ssm_code series_split_get(series_split *s, const series_dataset *d, series_split_id id,
                          ssm_error *e) {
    if (id != SERIES_TRAIN && id != SERIES_VAL && id != SERIES_TEST)
        return ssm_fail(e, SSM_EINVAL, "split %d: expected train (0), val (1) or test (2)", (int)id);
    s->ds = d;
    s->id = id;
    s->begin = d->border1[id];
    s->end = d->border2[id];
    s->count = window_count(s->begin, s->end, d->lookback, d->horizon, d->stride);
    return SSM_OK;
}

ssm_code series_window(real *x, real *y, const series_split *s, int64_t i, ssm_error *e) {
    if (i < 0 || i >= s->count)
        return ssm_fail(e, SSM_EINVAL, "%s window %lld: expected 0 <= index < %lld",
                        series_split_name(s->id), (long long)i, (long long)s->count);
    const series_dataset *d = s->ds;
    const int64_t r = s->begin + i * d->stride;
    const int64_t xc0 = d->vars - d->in_vars, yc0 = d->vars - d->out_vars;
    const int64_t F = d->time_feats, X = F + d->in_vars;
    for (int64_t t = 0; t < d->lookback; t++) {
        for (int64_t c = 0; c < F; c++)
            x[t * X + c] = (real)d->marks[(r + t) * F + c];
        for (int64_t c = 0; c < d->in_vars; c++)
            x[t * X + F + c] = (real)d->data[(r + t) * d->vars + xc0 + c];
    }
    for (int64_t t = 0; t < d->horizon; t++)
        for (int64_t c = 0; c < d->out_vars; c++)
            y[t * d->out_vars + c] = (real)d->data[(r + d->lookback + t) * d->vars + yc0 + c];
    return SSM_OK;
}

ssm_code series_batch(real *x, real *y, const series_split *s, const int64_t *idx, int64_t B,
                      ssm_error *e) {
    const series_dataset *d = s->ds;
    const size_t xs = (size_t)d->lookback * (size_t)(d->time_feats + d->in_vars);
    const size_t ys = (size_t)d->horizon * (size_t)d->out_vars;
    for (int64_t b = 0; b < B; b++)
        SSM_TRY(series_window(x + (size_t)b * xs, y + (size_t)b * ys, s, idx[b], e));
    return SSM_OK;
}

void series_inverse_transform(real *v, int64_t n, int64_t ncols, int64_t col0,
                              const series_dataset *d) {
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < ncols; c++)
            v[r * ncols + c] = (real)((double)v[r * ncols + c] * d->std[col0 + c] + d->mean[col0 + c]);
}
