// defines: the run-folder raster (see plot.h)
#include "tasks/plot.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "tasks/plot_font.h"

ssm_code plot_canvas_init(plot_canvas *c, int w, int h, plot_rgb bg, ssm_error *err) {
    c->w = w;
    c->h = h;
    c->px = w > 0 && h > 0 && w <= 16384 && h <= 16384 ? malloc((size_t)w * h * 3) : NULL;
    if (!c->px)
        return ssm_fail(err, SSM_ENOMEM, "plot: cannot allocate a %dx%d picture", w, h);
    plot_fill_rect(c, 0, 0, w, h, bg);
    return SSM_OK;
}

void plot_canvas_free(plot_canvas *c) {
    free(c->px);
    c->px = NULL;
}

void plot_fill_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col) {
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > c->w ? c->w : x1;
    y1 = y1 > c->h ? c->h : y1;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
            p[0] = col.r, p[1] = col.g, p[2] = col.b;
        }
}

// px = px (1 - a) + col a
static void blend(plot_canvas *c, int x, int y, plot_rgb col, double a) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0)
        return;
    a = a > 1 ? 1 : a;
    uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
    p[0] = (uint8_t)lrint(p[0] + (col.r - p[0]) * a);
    p[1] = (uint8_t)lrint(p[1] + (col.g - p[1]) * a);
    p[2] = (uint8_t)lrint(p[2] + (col.b - p[2]) * a);
}

// Coverage of each pixel near the segment: half the width plus half a pixel, minus the
// pixel centre's distance to the segment (so edges fade over one pixel).
void plot_line(plot_canvas *c, double x0, double y0, double x1, double y1, double width,
               plot_rgb col) {
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    double r = width / 2 + 0.5;
    int bx0 = (int)floor(fmin(x0, x1) - r), bx1 = (int)ceil(fmax(x0, x1) + r);
    int by0 = (int)floor(fmin(y0, y1) - r), by1 = (int)ceil(fmax(y0, y1) + r);
    bx0 = bx0 < 0 ? 0 : bx0;
    by0 = by0 < 0 ? 0 : by0;
    bx1 = bx1 >= c->w ? c->w - 1 : bx1;
    by1 = by1 >= c->h ? c->h - 1 : by1;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = by0; y <= by1; y++)
        for (int x = bx0; x <= bx1; x++) {
            double t = len2 > 0 ? ((x - x0) * dx + (y - y0) * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = x - (x0 + t * dx), ey = y - (y0 + t * dy);
            blend(c, x, y, col, r - sqrt(ex * ex + ey * ey));
        }
}

void plot_text(plot_canvas *c, int x, int y, const char *s, int scale, plot_rgb col) {
    for (; *s; s++, x += (PLOT_FONT_W + 1) * scale) {
        unsigned char ch = (unsigned char)*s;
        const uint8_t *g = plot_font5x7[(ch >= 0x20 && ch <= 0x7e ? ch : '?') - 0x20];
        for (int cx = 0; cx < PLOT_FONT_W; cx++)
            for (int ry = 0; ry < PLOT_FONT_H; ry++)
                if (g[cx] >> ry & 1)
                    plot_fill_rect(c, x + cx * scale, y + ry * scale, x + (cx + 1) * scale,
                                   y + (ry + 1) * scale, col);
    }
}

int plot_text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (n * (PLOT_FONT_W + 1) - 1) * scale : 0;
}

ssm_code plot_write_png(const plot_canvas *c, const char *path, ssm_error *err) {
    ssm_atomic_file a;
    SSM_TRY(ssm_atomic_open(&a, path, err));
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)c->w;
    img.height = (png_uint_32)c->h;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&img, a.f, 0, c->px, c->w * 3, NULL)) {
        ssm_atomic_abort(&a);
        return ssm_fail(err, SSM_EIO, "%s: cannot write the PNG (libpng: %s)", path, img.message);
    }
    return ssm_atomic_commit(&a, err);
}

int plot_nice_ticks(double lo, double hi, int max_ticks, double *ticks, double *step) {
    if (!(hi > lo) || max_ticks < 1) {
        ticks[0] = lo;
        *step = 1;
        return 1;
    }
    double raw = (hi - lo) / max_ticks, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    double s = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
    int n = 0;
    for (double k = ceil(lo / s - 1e-9); k * s <= hi + s * 1e-9 && n <= max_ticks; k++)
        ticks[n++] = k * s == 0 ? 0 : k * s; // no "-0"
    *step = s;
    return n;
}

// The decimals that write every multiple of step exactly (0.25 -> 2, 0.5 -> 1, 20 -> 0).
static int decimals(double step) {
    int d = 0;
    for (double m = step; d < 6 && fabs(m - round(m)) > 1e-6 * m; m *= 10)
        d++;
    return d;
}

void plot_format_tick(double v, double step, char *buf, int n) {
    double av = fabs(v);
    if (av >= 1000 && step >= 100 && av < 1e9) { // steps: 20k, 2.5k, 1.2M
        int mega = av >= 1e6;
        double u = v / (mega ? 1e6 : 1e3), su = step / (mega ? 1e6 : 1e3);
        int dec = decimals(su);
        char num[32];
        snprintf(num, sizeof num, "%.*f", dec, u);
        size_t e = strlen(num); // "1.0k" -> "1k"; "1.5k" stays
        while (dec > 0 && e > 0 && num[e - 1] == '0')
            num[--e] = 0;
        if (dec > 0 && e > 0 && num[e - 1] == '.')
            num[--e] = 0;
        snprintf(buf, (size_t)n, "%s%s", num, mega ? "M" : "k");
        return;
    }
    if (av != 0 && (av < 1e-4 || av >= 1e9)) {
        snprintf(buf, (size_t)n, "%.0e", v);
        return;
    }
    snprintf(buf, (size_t)n, "%.*f", decimals(step), v);
}

static double to_px_x(const plot_axes *a, double x) {
    double span = a->xmax - a->xmin;
    return a->x0 + (span > 0 ? (x - a->xmin) / span : 0.5) * (a->x1 - 1 - a->x0);
}

static double to_px_y(const plot_axes *a, double y) {
    double span = a->ymax - a->ymin;
    return a->y1 - 1 - (span > 0 ? (y - a->ymin) / span : 0.5) * (a->y1 - 1 - a->y0);
}

void plot_axes_draw(plot_canvas *c, const plot_axes *a, const char *title, const char *xlabel) {
    const int s = 2; // font scale: 10x14 pixel characters, readable at a glance
    double t[16], step;
    char lab[32];
    plot_fill_rect(c, a->x0, a->y0, a->x1, a->y1, PLOT_WHITE);
    int ny = plot_nice_ticks(a->ymin, a->ymax, 8, t, &step);
    for (int i = 0; i < ny; i++) {
        int y = (int)lrint(to_px_y(a, t[i]));
        plot_fill_rect(c, a->x0, y, a->x1, y + 1, PLOT_GRID);
        plot_fill_rect(c, a->x0 - 5, y, a->x0, y + 1, PLOT_GRAY);
        plot_format_tick(t[i], step, lab, sizeof lab);
        plot_text(c, a->x0 - 9 - plot_text_width(lab, s), y - PLOT_TEXT_H(s) / 2, lab, s,
                  PLOT_BLACK);
    }
    int nx = plot_nice_ticks(a->xmin, a->xmax, 8, t, &step);
    for (int i = 0; i < nx; i++) {
        int x = (int)lrint(to_px_x(a, t[i]));
        plot_fill_rect(c, x, a->y0, x + 1, a->y1, PLOT_GRID);
        plot_fill_rect(c, x, a->y1, x + 1, a->y1 + 5, PLOT_GRAY);
        plot_format_tick(t[i], step, lab, sizeof lab);
        plot_text(c, x - plot_text_width(lab, s) / 2, a->y1 + 9, lab, s, PLOT_BLACK);
    }
    // the frame
    plot_fill_rect(c, a->x0, a->y0, a->x1, a->y0 + 1, PLOT_GRAY);
    plot_fill_rect(c, a->x0, a->y1 - 1, a->x1, a->y1, PLOT_GRAY);
    plot_fill_rect(c, a->x0, a->y0, a->x0 + 1, a->y1, PLOT_GRAY);
    plot_fill_rect(c, a->x1 - 1, a->y0, a->x1, a->y1, PLOT_GRAY);
    if (title)
        plot_text(c, a->x0, a->y0 - PLOT_TEXT_H(s) - 10, title, s, PLOT_BLACK);
    if (xlabel)
        plot_text(c, (a->x0 + a->x1 - plot_text_width(xlabel, s)) / 2,
                  a->y1 + 9 + PLOT_TEXT_H(s) + 8, xlabel, s, PLOT_GRAY);
}

void plot_axes_polyline(plot_canvas *c, const plot_axes *a, const double *x, const double *y,
                        int64_t n, double width, double marker, plot_rgb col) {
    int have = 0;
    double px = 0, py = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            have = 0;
            continue;
        }
        double qx = to_px_x(a, x[i]), qy = to_px_y(a, y[i]);
        if (have)
            plot_line(c, px, py, qx, qy, width, col);
        if (marker > 0)
            plot_line(c, qx, qy, qx, qy, 2 * marker, col); // a zero-length wide line is a dot
        px = qx, py = qy, have = 1;
    }
}

int plot_legend(plot_canvas *c, int x, int y, int max_w, const char *const *labels,
                const plot_rgb *cols, int n) {
    const int s = 2, row = PLOT_TEXT_H(s) + 8, swatch = 24, gap = 20;
    int cx = x, rows = n > 0;
    for (int i = 0; i < n; i++) {
        int w = swatch + 8 + plot_text_width(labels[i], s);
        if (cx > x && cx + w > x + max_w) { // wrap to the next row
            cx = x;
            y += row;
            rows++;
        }
        int cy = y + PLOT_TEXT_H(s) / 2;
        plot_line(c, cx, cy, cx + swatch, cy, 3, cols[i]);
        plot_text(c, cx + swatch + 8, y, labels[i], s, PLOT_BLACK);
        cx += w + gap;
    }
    return rows;
}
