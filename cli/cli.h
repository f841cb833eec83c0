// defines: cli_args, cli_parse, cli_parse_dir_options, cli_fail, cli_load_config,
//          cli_apply_threads, cli_open_device, cli_mkdirs, cli_data, cli_data_open,
//          cli_data_close, cli_data_metadata, cli_train_config, cmd_train, cmd_eval, cmd_predict,
//          cmd_info, cmd_check_grad, cmd_cv, cmd_synth_bags, cmd_synth_scenes
// Shared plumbing of the ssmkit subcommands. Only cli/ prints errors and
// chooses exit codes (DESIGN.md invariant 7): 0 ok, 1 runtime/data error,
// 2 usage or config error.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/device_select.h"
#include "core/error.h"
#include "core/metadata.h"
#include "datasets/audio_data.h"
#include "datasets/image_data.h"
#include "datasets/mil_data.h"
#include "datasets/pc_data.h"
#include "datasets/series_data.h"
#include "tasks/task_run.h"
#include "tasks/train.h"

#define CLI_MAX_SETS 64
#define CLI_MAX_INPUTS 256

typedef struct {
    const char *config;                  // the positional CONFIG
    const char *sets[CLI_MAX_SETS];      // --set a.b=v, in order
    int n_sets;
    const char *resume;                  // --resume RUN_DIR
    const char *ckpt;                    // --ckpt FILE
    const char *split;                   // --split val|test
    const char *inputs[CLI_MAX_INPUTS];  // extra positionals (predict)
    int n_inputs;
    int top;                             // --top K (predict)
    double tolerance;                    // --tolerance (check-grad)
    int folds, repeats;                  // --folds K, --repeats R (cv; 0 = the config's)
    const char *out;                     // --out DIR (eval: the task's report files)
    int help;
} cli_args;

// Flags each command accepts, as a set of bits.
enum { CLI_SET = 1, CLI_RESUME = 2, CLI_CKPT = 4, CLI_SPLIT = 8, CLI_INPUTS = 16, CLI_TOP = 32,
       CLI_TOL = 64, CLI_FOLDS = 128, CLI_OUT = 256 };

// Parses argv after the command name; refuses flags outside `allowed`.
// Returns 0, or 2 after printing the problem and the usage line.
int cli_parse(cli_args *a, int argc, char **argv, unsigned allowed, const char *usage);

// The command line of a generator, `ssmkit <cmd> DIR [--option value]...`: DIR into *dir,
// each option and its value handed to opt(ctx, option, value), which returns 0 when it took
// them, 1 for an option it does not know, 2 for a bad value (after saying why). --help / -h
// prints the usage line and `help`. Returns -1 when the command should go on, else the exit
// code to return now: 0 after --help, 2 after a usage error (printed with the usage line).
int cli_parse_dir_options(int argc, char **argv, const char *usage, const char *help,
                          const char **dir, int (*opt)(void *ctx, const char *key, const char *val),
                          void *ctx);

// Prints "ssmkit <cmd>: <message>" and returns the exit code for err->code.
// A config error found after loading (the model or the task refusing the data or a key)
// prefixed with the config file, unless the message names it already.
void cli_blame_config(const char *config, ssm_error *err);
int cli_fail(const char *cmd, const ssm_error *err);

// Defaults + file + --set overrides + cross-key checks.
ssm_code cli_load_config(ssm_config *c, const cli_args *a, ssm_error *err);

// run.device: parses it and checks it can be used (a CPU-only build, or no GPU:
// SSM_EDEVICE with the reason), making a GPU current. Commands that compute call it
// right after cli_load_config, so the refusal comes before any data is read.
ssm_code cli_open_device(const ssm_config *c, ssm_device *d, ssm_error *err);

// run.threads: the OpenMP thread count (0 = every core this process may use);
// OpenBLAS is kept at one thread (gemm splits over OpenMP). Logs the CPU
// kernel variant, the thread count and OpenBLAS's kernel: a run's first line.
void cli_apply_threads(const ssm_config *c);

// The data a config names (data.name): an image recipe (datasets/image_data.h),
// a series recipe (datasets/series_data.h), a MIL recipe (datasets/mil_data.h) or an
// audio recipe (datasets/audio_data.h), with the batchers and what the
// task needs to know of it. Holds batchers: never copy or move it once open.
typedef struct {
    int series;        // which recipe is open: series, mil, audio, else images
    int mil;
    int audio;
    int points;        // point clouds (datasets/pc_data.h)
    image_data img;
    series_data ser;
    mil_data bags;     // MIL bags (ragged batches)
    audio_data aud;    // audio clips (datasets/audio_data.h)
    pc_data pts;       // point clouds
    ssm_batcher *train, *val, *test; // val NULL without validation, test NULL unless test_too
    task_data_info info;
    ssm_data_config conf; // the config's data section it was opened with (for the metadata)
} cli_data;

ssm_code cli_data_open(cli_data *d, const ssm_config *c, int test_too, ssm_error *err);
void cli_data_close(cli_data *d);

// Checkpoint metadata describing the data a model was trained on, so that
// `predict` can normalise inputs and name classes without the dataset.
// Images: data_channels, data_height, data_width, data_mean.<c>, data_std.<c>,
// class_names (one per line). Series: data_lookback, data_variates,
// data_horizon, data_out_variates, data_columns (the input columns' names, one a
// line), data_mean.<j>, data_std.<j> (the scaler of each input column,
// forecasting) or class_names (UCR; with data.pack also data_patch_len,
// data_patch_stride; with data.series_norm: dataset the channels' data_mean.<j>,
// data_std.<j>). Audio: data_frames, data_mel,
// data_sample_rate, data_mean.0, data_std.0 (the log-mel normalisation), class_names.
// MIL bags: data_features, data_token, data_coords, class_names, and data_mean.<j>,
// data_std.<j> of each feature when they were standardised (musk). Points: data_points,
// data_point_values, data_point_sampling, class_names. Images, audio, bags and points:
// data_normalize (1 when the inputs were standardised). docs/checkpoints.md lists them.
#define CLI_META_CLASS_NAMES "class_names"
ssm_code cli_data_metadata(ssm_metadata *m, const cli_data *d, ssm_error *err);

// mkdir -p
ssm_code cli_mkdirs(const char *path, ssm_error *err);

// One training run of cfg into run_dir, as `ssmkit train` does (and `cv` per fold);
// *primary = the task's primary metric name. quiet: no model/run-folder lines.
ssm_code cli_train_config(const ssm_config *cfg, const ssm_device *device, const char *run_dir,
                          int resume, train_result *r, const char **primary, int quiet,
                          ssm_error *err);

// run.dir/run.name, or run.dir/<config file name without extension>.
void cli_run_dir(char *out, size_t n, const ssm_config *cfg, const char *config_path);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_check_grad(int argc, char **argv);
int cmd_cv(int argc, char **argv);
int cmd_synth_bags(int argc, char **argv);
int cmd_synth_scenes(int argc, char **argv);
