// defines: the run folder's pictures (see plot_run.h)
#include "tasks/plot_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "tasks/plot.h"

// --- metrics.jsonl, read back ------------------------------------------------------

typedef struct {
    double *x, *y, *z; // step, loss, primary (z unused for the training series)
    int64_t n, cap;
} series;

static void series_free(series *s) {
    free(s->x);
    free(s->y);
    free(s->z);
}

// Appends (x, y, z); a step at or before the last one (a resumed run redoing steps after
// its checkpoint) first drops the points it replaces.
static int series_add(series *s, double x, double y, double z) {
    while (s->n > 0 && s->x[s->n - 1] >= x)
        s->n--;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (nx)
            s->x = nx;
        double *ny = nx ? realloc(s->y, (size_t)cap * sizeof *ny) : NULL;
        if (ny)
            s->y = ny;
        double *nz = ny ? realloc(s->z, (size_t)cap * sizeof *nz) : NULL;
        if (!nz)
            return 0;
        s->z = nz;
        s->cap = cap;
    }
    s->x[s->n] = x, s->y[s->n] = y, s->z[s->n] = z;
    s->n++;
    return 1;
}

// The value of "key": in a one-line JSON object as runlog writes it: a number, or NaN
// for null, a missing key or anything else.
static double json_num(const char *line, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return NAN;
    p += strlen(pat);
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

static int json_is(const char *line, const char *key, const char *value) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":\"%s\"", key, value);
    return strstr(line, pat) != NULL;
}

typedef struct {
    series train, val; // train: (step, loss); val: (step, loss, primary)
} run_curves;

static ssm_code read_log(run_curves *rc, const char *path, const char *primary, ssm_error *err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int ok = 1;
    while (ok && getline(&line, &cap, f) > 0) {
        if (json_is(line, "kind", "step"))
            ok = series_add(&rc->train, json_num(line, "step"), json_num(line, "loss"), NAN);
        else if (json_is(line, "kind", "eval") && json_is(line, "split", "val"))
            ok = series_add(&rc->val, json_num(line, "step"), json_num(line, "loss"),
                            json_num(line, primary));
    }
    free(line);
    fclose(f);
    return ok ? SSM_OK : ssm_fail(err, SSM_ENOMEM, "%s: out of memory reading it back", path);
}

// --- curves.png ----------------------------------------------------------------------

static void range_of(const double *v, int64_t n, double *lo, double *hi) {
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            *lo = fmin(*lo, v[i]);
            *hi = fmax(*hi, v[i]);
        }
}

// A y range with 5% air, and something sensible for one value or none.
static void pad_range(double *lo, double *hi) {
    if (!(*lo <= *hi)) {
        *lo = 0, *hi = 1;
    } else if (*hi - *lo < 1e-12 * fmax(1, fabs(*hi))) {
        double d = fabs(*hi) > 0 ? 0.1 * fabs(*hi) : 1;
        *lo -= d, *hi += d;
    } else {
        double d = 0.05 * (*hi - *lo);
        *lo -= d, *hi += d;
    }
}

// TensorBoard's smoothing, a debiased exponential moving average, over about a 30th of
// the points (so its lag is a 30th of the chart's width, whatever the run's length).
static void smooth(const double *y, int64_t n, double *out) {
    double w = fmin(fmax(1 - 30.0 / (double)n, 0), 0.98), acc = 0, norm = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            out[i] = NAN;
            continue;
        }
        acc = acc * w + (1 - w) * y[i];
        norm = norm * w + (1 - w);
        out[i] = acc / norm;
    }
}

static void no_data(plot_canvas *c, const plot_axes *a, const char *what) {
    plot_text(c, (a->x0 + a->x1 - plot_text_width(what, 2)) / 2, (a->y0 + a->y1) / 2, what, 2,
              PLOT_GRAY);
}

ssm_code plot_curves_write(const char *jsonl_path, const char *png_path, const char *primary,
                           int lower_is_better, ssm_error *err) {
    run_curves rc;
    memset(&rc, 0, sizeof rc);
    ssm_code code = read_log(&rc, jsonl_path, primary, err);
    plot_canvas c = {0};
    if (!code)
        code = plot_canvas_init(&c, PLOT_CURVES_W, PLOT_CURVES_H, PLOT_WHITE, err);
    double *sm = rc.train.n ? malloc((size_t)rc.train.n * sizeof *sm) : NULL;
    if (!code && rc.train.n && !sm)
        code = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", png_path);
    if (code) {
        series_free(&rc.train);
        series_free(&rc.val);
        plot_canvas_free(&c);
        return code;
    }
    double xmax = 1, lo = INFINITY, hi = -INFINITY, mlo = INFINITY, mhi = -INFINITY;
    if (rc.train.n)
        xmax = fmax(xmax, rc.train.x[rc.train.n - 1]);
    if (rc.val.n)
        xmax = fmax(xmax, rc.val.x[rc.val.n - 1]);
    range_of(rc.train.y, rc.train.n, &lo, &hi);
    range_of(rc.val.y, rc.val.n, &lo, &hi);
    range_of(rc.val.z, rc.val.n, &mlo, &mhi);
    pad_range(&lo, &hi);
    pad_range(&mlo, &mhi);

    xmax *= 1.02; // the last point's marker stays inside the frame
    // titles, then the legends (up to two rows), then the charts
    plot_axes loss = {90, 110, 560, 450, 0, xmax, lo, hi};
    plot_axes metric = {690, 110, 1160, 450, 0, xmax, mlo, mhi};
    plot_axes_draw(&c, &loss, NULL, "step");
    plot_axes_draw(&c, &metric, NULL, "step");
    char title[96];
    snprintf(title, sizeof title, "validation %s", primary);
    plot_text(&c, loss.x0, 20, "loss", 2, PLOT_BLACK);
    plot_text(&c, metric.x0, 20, title, 2, PLOT_BLACK);
    const int legend_y = 52, legend_w = loss.x1 - loss.x0;

    if (rc.train.n) {
        smooth(rc.train.y, rc.train.n, sm);
        plot_axes_polyline(&c, &loss, rc.train.x, rc.train.y, rc.train.n, 1, 0, PLOT_LIGHT_BLUE);
        plot_axes_polyline(&c, &loss, rc.train.x, sm, rc.train.n, 2.5, 0, PLOT_BLUE);
    }
    if (rc.val.n)
        plot_axes_polyline(&c, &loss, rc.val.x, rc.val.y, rc.val.n, 2.5, 3.5, PLOT_ORANGE);
    if (rc.train.n || rc.val.n) {
        const char *labels[3] = {"train", "smoothed", "validation"};
        const plot_rgb cols[3] = {PLOT_LIGHT_BLUE, PLOT_BLUE, PLOT_ORANGE};
        plot_legend(&c, loss.x0, legend_y, legend_w, labels, cols, rc.val.n ? 3 : 2);
    } else {
        no_data(&c, &loss, "no step logged yet");
    }

    int64_t best = -1;
    for (int64_t i = 0; i < rc.val.n; i++)
        if (isfinite(rc.val.z[i]) &&
            (best < 0 || (lower_is_better ? rc.val.z[i] < rc.val.z[best]
                                          : rc.val.z[i] > rc.val.z[best])))
            best = i;
    if (best >= 0) {
        plot_axes_polyline(&c, &metric, rc.val.x, rc.val.z, rc.val.n, 2.5, 3.5, PLOT_ORANGE);
        plot_axes_polyline(&c, &metric, rc.val.x + best, rc.val.z + best, 1, 0, 7, PLOT_GREEN);
        char lab[96];
        snprintf(lab, sizeof lab, "best %.4g at step %lld", rc.val.z[best],
                 (long long)rc.val.x[best]);
        const char *labels[2] = {"validation", lab};
        const plot_rgb cols[2] = {PLOT_ORANGE, PLOT_GREEN};
        plot_legend(&c, metric.x0, legend_y, legend_w, labels, cols, 2);
    } else {
        no_data(&c, &metric, rc.val.n ? "no finite value yet" : "no validation yet");
    }
    code = plot_write_png(&c, png_path, err);
    free(sm);
    series_free(&rc.train);
    series_free(&rc.val);
    plot_canvas_free(&c);
    return code;
}

void plot_run_curves(const char *run_dir, const char *primary, int lower_is_better) {
    char log[1200], png[1200];
    snprintf(log, sizeof log, "%s/metrics.jsonl", run_dir);
    snprintf(png, sizeof png, "%s/curves.png", run_dir);
    ssm_error e = {0};
    if (plot_curves_write(log, png, primary, lower_is_better, &e))
        ssm_warn("curves.png not written: %s", e.msg);
}

// --- confusion_test.png -------------------------------------------------------------

typedef struct {
    int cell, ls, every, cevery, left, top, w, h;
    int short_names; // every name fits a cell: names label the columns too
} conf_layout;

// Rows show "k name" and columns k, unless the names are short enough for both.
static void row_label(char *buf, size_t n, int64_t k, const char *const *names, int short_names) {
    if (names && names[k] && short_names)
        snprintf(buf, n, "%.16s", names[k]);
    else if (names && names[k])
        snprintf(buf, n, "%lld %.16s", (long long)k, names[k]);
    else
        snprintf(buf, n, "%lld", (long long)k);
}

static void col_label(char *buf, size_t n, int64_t k, const char *const *names, int short_names) {
    if (names && names[k] && short_names)
        snprintf(buf, n, "%.16s", names[k]);
    else
        snprintf(buf, n, "%lld", (long long)k);
}

static const char *CONF_TITLE = "test confusion: rows true class, columns predicted";

static conf_layout conf_layout_of(int64_t K, const char *const *names) {
    conf_layout L;
    int64_t cell = K > 0 ? 720 / K : 56;
    L.cell = (int)(cell < 1 ? 1 : cell > 56 ? 56 : cell);
    L.ls = L.cell >= 16 ? 2 : 1;
    L.every = (PLOT_TEXT_H(L.ls) + 2 + L.cell - 1) / L.cell;
    L.short_names = names != NULL;
    for (int64_t k = 0; k < K && L.short_names; k++)
        L.short_names = names[k] && plot_text_width(names[k], L.ls) + 6 <= L.cell;
    char buf[64];
    int cw = 0;
    for (int64_t k = 0; k < K; k++) {
        col_label(buf, sizeof buf, k, names, L.short_names);
        int tw = plot_text_width(buf, L.ls);
        cw = tw > cw ? tw : cw;
    }
    L.cevery = (cw + 6 + L.cell - 1) / L.cell;
    int lw = plot_text_width("true", 2);
    for (int64_t k = 0; k < K; k += L.every) {
        row_label(buf, sizeof buf, k, names, L.short_names);
        int tw = plot_text_width(buf, L.ls);
        lw = tw > lw ? tw : lw;
    }
    L.left = lw + 24;
    L.top = 70 + PLOT_TEXT_H(L.ls);
    int grid = (int)(K * L.cell);
    L.w = L.left + grid + 120;
    int tw = plot_text_width(CONF_TITLE, 2) + 24;
    L.w = L.w > tw ? L.w : tw;
    L.h = L.top + (grid > 120 ? grid : 120) + 60; // the colour bar is at least 120 tall
    return L;
}

void plot_confusion_size(int64_t K, const char *const *names, int *w, int *h) {
    conf_layout L = conf_layout_of(K, names);
    *w = L.w;
    *h = L.h;
}

// matplotlib's "Blues": near white at 0, dark blue at 1 (three stops, linear between).
static plot_rgb blues(double t) {
    static const double st[3][3] = {{247, 251, 255}, {107, 174, 214}, {8, 48, 107}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    int i = t < 0.5 ? 0 : 1;
    double u = t < 0.5 ? t / 0.5 : (t - 0.5) / 0.5;
    return (plot_rgb){(uint8_t)lrint(st[i][0] + (st[i + 1][0] - st[i][0]) * u),
                      (uint8_t)lrint(st[i][1] + (st[i + 1][1] - st[i][1]) * u),
                      (uint8_t)lrint(st[i][2] + (st[i + 1][2] - st[i][2]) * u)};
}

ssm_code plot_confusion_write(const char *png_path, const int64_t *confusion, int64_t K,
                              const char *const *names, ssm_error *err) {
    if (K < 1 || K > 4096)
        return ssm_fail(err, SSM_EINVAL, "%s: %lld classes; a confusion picture shows 1..4096",
                        png_path, (long long)K);
    conf_layout L = conf_layout_of(K, names);
    plot_canvas c;
    SSM_TRY(plot_canvas_init(&c, L.w, L.h, PLOT_WHITE, err));
    plot_text(&c, 12, 12, CONF_TITLE, 2, PLOT_BLACK);
    plot_text(&c, L.left - 12 - plot_text_width("true", 2), L.top - PLOT_TEXT_H(2) - 8, "true", 2,
              PLOT_GRAY);
    char buf[64];
    for (int64_t i = 0; i < K; i++) {
        int64_t row = 0;
        for (int64_t j = 0; j < K; j++)
            row += confusion[i * K + j];
        for (int64_t j = 0; j < K; j++) {
            int64_t v = confusion[i * K + j];
            double frac = row > 0 ? (double)v / (double)row : 0;
            int x = L.left + (int)j * L.cell, y = L.top + (int)i * L.cell;
            plot_fill_rect(&c, x, y, x + L.cell, y + L.cell, blues(frac));
            snprintf(buf, sizeof buf, "%lld", (long long)v);
            int ts = plot_text_width(buf, 2) + 6 <= L.cell && PLOT_TEXT_H(2) + 6 <= L.cell ? 2 : 1;
            if (plot_text_width(buf, ts) + 4 <= L.cell && PLOT_TEXT_H(ts) + 4 <= L.cell)
                plot_text(&c, x + (L.cell - plot_text_width(buf, ts)) / 2,
                          y + (L.cell - PLOT_TEXT_H(ts)) / 2, buf, ts,
                          frac > 0.5 ? PLOT_WHITE : PLOT_BLACK);
        }
        if (i % L.every == 0) {
            row_label(buf, sizeof buf, i, names, L.short_names);
            int y = L.top + (int)i * L.cell + (L.cell - PLOT_TEXT_H(L.ls)) / 2;
            plot_text(&c, L.left - 8 - plot_text_width(buf, L.ls), y, buf, L.ls, PLOT_BLACK);
        }
    }
    for (int64_t j = 0; j < K; j += L.cevery) {
        col_label(buf, sizeof buf, j, names, L.short_names);
        int x = L.left + (int)j * L.cell + (L.cell - plot_text_width(buf, L.ls)) / 2;
        plot_text(&c, x, L.top - PLOT_TEXT_H(L.ls) - 6, buf, L.ls, PLOT_BLACK);
    }
    int grid = (int)K * L.cell;
    const char *pred = L.short_names ? "predicted class"
                                     : "predicted class (columns numbered as the rows)";
    int px = L.left + (grid - plot_text_width(pred, 2)) / 2;
    plot_text(&c, px < 12 ? 12 : px, L.top + grid + 16, pred, 2, PLOT_GRAY);
    // the colour bar: the share of the row, 0 at the bottom
    int bx = L.left + grid + 30, by0 = L.top, by1 = L.top + (grid > 120 ? grid : 120);
    for (int y = by0; y < by1; y++)
        plot_fill_rect(&c, bx, y, bx + 18, y + 1, blues((double)(by1 - 1 - y) / (by1 - 1 - by0)));
    const char *ticks[3] = {"1", "0.5", "0"};
    for (int k = 0; k < 3; k++) {
        int y = by0 + (by1 - 1 - by0) * k / 2;
        plot_text(&c, bx + 26, y - PLOT_TEXT_H(2) / 2, ticks[k], 2, PLOT_BLACK);
    }
    ssm_code rc = plot_write_png(&c, png_path, err);
    plot_canvas_free(&c);
    return rc;
}
