// defines: plot_rgb, plot_canvas, plot_canvas_init, plot_canvas_free, plot_fill_rect,
//          plot_line, plot_text, plot_text_width, plot_write_png, plot_nice_ticks,
//          plot_format_tick, plot_axes, plot_axes_draw, plot_axes_polyline, plot_legend,
//          PLOT_*
// A small raster for the run folder's pictures (docs/runs.md): an RGB canvas, anti-aliased
// lines, text from a built-in 5x7 bitmap font (tasks/plot_font.h) scaled by an integer,
// chart axes with "nice" ticks, and a PNG writer (libpng, written atomically). No
// plotting stack: a run folder gets its pictures from the binary alone.
#pragma once
#include <stdint.h>

#include "core/error.h"

typedef struct {
    uint8_t r, g, b;
} plot_rgb;

#define PLOT_WHITE ((plot_rgb){255, 255, 255})
#define PLOT_BLACK ((plot_rgb){0, 0, 0})
#define PLOT_GRAY ((plot_rgb){110, 110, 110})
#define PLOT_GRID ((plot_rgb){225, 225, 225})
#define PLOT_BLUE ((plot_rgb){31, 119, 180})   // matplotlib's first colours: familiar
#define PLOT_ORANGE ((plot_rgb){255, 127, 14})
#define PLOT_GREEN ((plot_rgb){44, 160, 44})
#define PLOT_LIGHT_BLUE ((plot_rgb){170, 200, 228})

typedef struct {
    int w, h;
    uint8_t *px; // [h, w, 3] rows top to bottom
} plot_canvas;

ssm_code plot_canvas_init(plot_canvas *c, int w, int h, plot_rgb bg, ssm_error *err);
void plot_canvas_free(plot_canvas *c);

// Pixels x0 <= x < x1, y0 <= y < y1 (clipped to the canvas).
void plot_fill_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgb col);
// A segment `width` pixels wide between pixel centres, anti-aliased, clipped.
void plot_line(plot_canvas *c, double x0, double y0, double x1, double y1, double width,
               plot_rgb col);
// Text with its top-left corner at (x, y), each font pixel a scale x scale block; one
// line, characters outside printable ASCII drawn as '?'.
void plot_text(plot_canvas *c, int x, int y, const char *s, int scale, plot_rgb col);
int plot_text_width(const char *s, int scale);  // pixels, for alignment
#define PLOT_TEXT_H(scale) (7 * (scale))

// Writes the canvas as an 8-bit RGB PNG (temp file + rename: never seen half-written).
ssm_code plot_write_png(const plot_canvas *c, const char *path, ssm_error *err);

// Up to max_ticks values k * step in [lo, hi], step 1, 2 or 5 x 10^e; returns the count.
int plot_nice_ticks(double lo, double hi, int max_ticks, double *ticks, double *step);
// A tick label with as many decimals as the step needs ("0.25", "1e-05", "20k").
void plot_format_tick(double v, double step, char *buf, int n);

// A chart's data rectangle (pixels, x1 and y1 exclusive) and the ranges it shows.
typedef struct {
    int x0, y0, x1, y1;
    double xmin, xmax, ymin, ymax;
} plot_axes;

// Grid, frame, tick labels on both axes, the title above and the x label below.
void plot_axes_draw(plot_canvas *c, const plot_axes *a, const char *title, const char *xlabel);
// The points (x[i], y[i]) joined in order; a NaN or infinite y breaks the line.
// marker > 0 also draws a dot of that radius at each point.
void plot_axes_polyline(plot_canvas *c, const plot_axes *a, const double *x, const double *y,
                        int64_t n, double width, double marker, plot_rgb col);
// A legend above a chart: a colour swatch and a label per entry, left to right from the
// top-left corner (x, y), wrapping to another row past max_w pixels. Returns the rows.
int plot_legend(plot_canvas *c, int x, int y, int max_w, const char *const *labels,
                const plot_rgb *cols, int n);
