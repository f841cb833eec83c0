// defines: plot_curves_write, plot_run_curves, plot_confusion_write
// The pictures of a run folder (docs/runs.md), drawn with tasks/plot.h:
//   curves.png          left: the training loss (each logged step, light, and smoothed)
//                       and the validation loss against steps; right: the validation
//                       value of the task's primary metric, the best one marked. Read
//                       back from metrics.jsonl, so the train loop keeps no extra state
//                       and a resumed run's picture covers the whole run (steps redone
//                       after a resume replace the earlier ones, as the log says).
//   confusion_test.png  classification: the test confusion matrix as a heat map, rows
//                       the true class, columns the predicted one, colour the share of
//                       the row, counts written in cells wide enough, class names.
#pragma once
#include <stdint.h>

#include "core/error.h"

#define PLOT_CURVES_W 1200
#define PLOT_CURVES_H 500

// curves.png from a metrics.jsonl; primary names the metric ("accuracy", "mse", ...).
// A log with no point yet still gives a picture (empty axes).
ssm_code plot_curves_write(const char *jsonl_path, const char *png_path, const char *primary,
                           int lower_is_better, ssm_error *err);

// <run_dir>/curves.png from <run_dir>/metrics.jsonl. A failure is logged as a warning:
// a missing picture must not stop training.
void plot_run_curves(const char *run_dir, const char *primary, int lower_is_better);

// The heat map of confusion [K, K] (rows true, columns predicted); names [K] may be NULL
// (indices are shown). The picture's size follows K (plot_confusion_size).
ssm_code plot_confusion_write(const char *png_path, const int64_t *confusion, int64_t K,
                              const char *const *names, ssm_error *err);
void plot_confusion_size(int64_t K, const char *const *names, int *w, int *h);
