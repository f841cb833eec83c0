// defines: predict_format, predict_opts, predict_item, predict_group, predict_ctx,
//          predict_reader, predict_plan, predict_run, predict_meta, predict_meta_int, predict_meta_double,
//          predict_normalize, predict_group_alloc, predict_group_free, predict_reader_images,
//          predict_reader_audio, predict_reader_bags, predict_reader_points,
//          predict_reader_forecast, predict_reader_series,
//          predict_writer, predict_writer_begin, predict_writer_row, predict_writer_end,
//          predict_json_string, predict_csv_cell, PREDICT_CHUNK
// `ssmkit predict` (docs/predict.md): a checkpoint's model on input files of any modality.
// Each modality is a reader, one file cli/predict_<modality>.c plus one line in the table
// of cli/predict.c: it says which configs it serves (data.name), learns the data's shape
// and normalisation from the checkpoint's metadata (cli_data_metadata wrote it; the config
// supplies what a checkpoint written elsewhere lacks), and turns the input files into
// groups of model inputs, each a dense batch [n, <sample>] or a packed ragged one (bags).
// The driver (cli/predict.c) builds the model for a group's shape (the trained shape, or
// another: a clip longer than the training clips, whose learned positions are resized),
// loads the weights, runs it, and hands every sample's outputs to the writer
// (cli/predict_output.c: tab-separated text, JSON or CSV). A reader may write extra
// outputs after each group (bags: the per-instance attention), or write the group's outputs
// itself (forecasts: a block of rows per input, cli/predict_series.c).
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "adapters/adapter.h"
#include "core/config.h"
#include "core/error.h"
#include "core/metadata.h"
#include "tasks/task.h"

#define PREDICT_CHUNK 64 // samples per dense group (images, clouds, audio windows)

typedef enum { PREDICT_TEXT = 0, PREDICT_JSON, PREDICT_CSV } predict_format;

typedef struct {
    predict_format format; // --format text|json|csv
    int top;               // --top K: classes per text line
    int full;              // --full: text probabilities with 9 significant digits
    double window, hop;    // --window S --hop S (audio, seconds); window 0 = whole clips
    const char *attention; // --attention FILE (bags: per-instance attention CSV), or NULL
    int64_t at;            // --at ROW (forecasts): the history ends at data row ROW; 0: the last
    int no_dates;          // --no-dates (forecasts): number the future steps, no timestamps
    const char *category;  // --category NAME (point segmentation: the objects' category), or NULL
} predict_opts;

// What one output row describes.
typedef struct {
    const char *input;  // the input file (argv's string)
    char sample[256];   // the sample within the file ("" = the whole file; a bag id)
    double start, end;  // seconds of an audio window; start < 0: the whole input
    int64_t tokens;     // ragged samples: instances (0 for dense)
} predict_item;

// A batch of samples of one shape, read by a reader (owned by it, reused between groups).
typedef struct {
    int64_t n;               // samples; 0 = no more input
    int ragged;              // x is packed: sample b is rows offsets[b] .. offsets[b+1]
    ssm_input_shape shape;   // dense: one sample's shape; ragged: one token's
    real *x;                 // dense [n, shape]; ragged [offsets[n], shape]
    int64_t *offsets;        // [n + 1] (ragged)
    predict_item *items;     // [n]
    int64_t cap_n, cap_x;    // allocated samples and values of x
} predict_group;

// Makes room for n samples and nx values of x (keeps what is there).
ssm_code predict_group_alloc(predict_group *g, int64_t n, int64_t nx, ssm_error *err);
void predict_group_free(predict_group *g);

typedef struct {
    const ssm_config *cfg;
    const char *ckpt;
    const predict_opts *opt;
    const char *const *inputs;
    int64_t n_inputs;
    ssm_metadata meta;      // the checkpoint's
    ssm_metadata data_meta; // what the config's data gives (opened on the first missing key)
    int data_tried;
    ssm_error data_err;     // why the config's data could not be opened (when data_tried)
    int64_t V;              // task.num_classes
    const char **class_names; // [V] (entries may be NULL: numbered)
    char *names_buf;
    FILE *out;              // stdout
} predict_ctx;

// What a reader learns of the trained model's input from the metadata.
typedef struct {
    ssm_input_shape trained; // one sample (dense) or one token (ragged) as trained
    int ragged;              // packed groups (bags)
    int coords;              // ragged tokens end with 2 coordinates (the adapter's option)
    // series windows (forecast, regress): the task's horizon and target columns, and the
    // targets' scaler std (task_data_info's horizon, out_vars, out_std); 0 / NULL else
    int64_t horizon, out_vars;
    const double *out_std;
    int64_t time_features; // calendar columns before the variates (data_time_features), or 0
    // a segmentation model (task segment): its categories and parts, as the task needs them
    // (task_data_info), and the reader writes the rows itself (in `after`, one per point)
    int64_t categories, num_parts;
    const int32_t *part_range; // [categories, 2]
    int own_rows;
} predict_plan;

typedef struct {
    const char *name;    // "images", "audio", "bags", "points"
    const char *inputs;  // what it reads, for --help
    int (*matches)(const ssm_data_config *dc);
    // Fills *plan and the reader's state (*state, freed by close).
    ssm_code (*open)(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err);
    // The next group of samples from c->inputs (the reader keeps its place); g->n = 0 at
    // the end.
    ssm_code (*next)(predict_ctx *c, void *state, predict_group *g, ssm_error *err);
    // Optional: after the model was built for g, before it runs (a segmentation model's
    // categories).
    ssm_code (*before)(predict_ctx *c, void *state, ssm_task *t, const predict_group *g,
                       ssm_error *err);
    // Optional: after the model ran on g, extra outputs (bags: --attention; with
    // plan->own_rows, the rows themselves).
    ssm_code (*after)(predict_ctx *c, void *state, const ssm_task *t, const predict_group *g,
                      ssm_error *err);
    void (*close)(void *state);
    // Optional: writes the outputs out [g->n, t->model.K] of g itself, in place of the row
    // writer (forecasts: a block of horizon rows per input), and after the last group
    // finishes the output (closes a JSON document); finish is not called after an error.
    ssm_code (*write)(predict_ctx *c, void *state, const ssm_task *t, const predict_group *g,
                      const real *out, ssm_error *err);
    void (*finish)(predict_ctx *c, void *state);
} predict_reader;

extern const predict_reader predict_reader_images, predict_reader_audio, predict_reader_bags,
    predict_reader_points, predict_reader_forecast, predict_reader_series;

// The whole command once the config is loaded: opens the checkpoint's metadata, picks the
// reader for data.name, and writes one output row per sample to stdout.
ssm_code predict_run(const ssm_config *cfg, const char *ckpt, const char *const *inputs,
                     int64_t n_inputs, const predict_opts *opt, ssm_error *err);

// A data key of the checkpoint's metadata; when the checkpoint lacks it (one written by
// PyTorch, or by an older ssmkit), the value cli_data_metadata gives for the config's data
// (opened once, training split only). NULL with an error naming the key when neither has it.
const char *predict_meta(predict_ctx *c, const char *key, ssm_error *err);
ssm_code predict_meta_int(predict_ctx *c, const char *key, int64_t *out, ssm_error *err);
ssm_code predict_meta_double(predict_ctx *c, const char *key, double *out, ssm_error *err);
// The training split's scaler of n columns (data_mean.<j>, data_std.<j>, every std > 0) into
// *mean, *std [n], malloc'd (the caller frees them, also on failure).
ssm_code predict_meta_scaler(predict_ctx *c, int64_t n, double **mean, double **std,
                             ssm_error *err);
// data_normalize: the checkpoint's, else the config's data.augment.normalize (a checkpoint
// from before the key existed was trained with the config's setting).
ssm_code predict_normalize(predict_ctx *c, int *out, ssm_error *err);

// ---- output (cli/predict_output.c) ----------------------------------------------------

typedef struct {
    FILE *f;
    const predict_opts *opt;
    const ssm_task *task;
    int probs;           // outputs are class logits (classify, mil): softmax probabilities
    int64_t V;           // class names (probs) / outputs per sample
    const char *const *class_names;
    int rows;            // rows written
    int timed;           // the rows carry start / end times (audio windows)
} predict_writer;

// The header (CSV), the opening of the document (JSON).
void predict_writer_begin(predict_writer *w, FILE *f, const predict_opts *opt, const ssm_task *t,
                          const char *const *class_names, const char *ckpt, int timed);
// One sample's row from its outputs out [t->model.K].
void predict_writer_row(predict_writer *w, const predict_item *it, const real *out);
void predict_writer_end(predict_writer *w);
// s as a JSON string (quoted, escaped); s as a CSV cell (quoted when it holds a comma, a
// quote or a line break): the writer's own, for readers that write their outputs (a `write`
// hook, or plan->own_rows).
void predict_json_string(FILE *f, const char *s);
void predict_csv_cell(FILE *f, const char *s);
