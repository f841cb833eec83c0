// defines: cf_write_synthetic_idx, cf_pattern_image, cf_idx_fixture, cf_bin, cf_run,
//          cf_ssmkit, cf_output, cf_run_last_line, cf_run_capture, cf_read_file, cf_json_number
// Helpers for suites that drive the ssmkit binary: a synthetic IDX image
// dataset whose classes are learnable patterns (and a run folder with a config
// that learns it), running commands, reading the one-line JSON they print.
#pragma once
#include <stddef.h>
#include <stdint.h>

// 28x28 grayscale: class k is a bright 6x6 square at a class-specific place,
// over uniform noise. Writes train-*-ubyte (n_train) and t10k-*-ubyte (n_test)
// into dir. Returns 0 on success.
int cf_write_synthetic_idx(const char *dir, int n_train, int n_test, uint64_t seed);
// One 28x28 image of class k (noise from *state).
void cf_pattern_image(uint8_t *img, int k, uint64_t *state);

// A fresh folder <$TMPDIR or /tmp>/<tag>_XXXXXX into dir[0..cap), holding cfg.yaml: a deliberately
// tiny bidirectional classifier (d_model 24, 2 layers, 6 epochs, a checkpoint every 7
// steps) that must still learn the patterns, its runs under dir/runs, its data in dir/data,
// then run_extra (more keys of run:, e.g. "  device: cuda\n"; NULL for none). With with_data,
// dir/data holds 1200 training and 300 test images (cf_write_synthetic_idx, seed 7).
// Fails the test on any error.
void cf_idx_fixture(char *dir, size_t cap, const char *tag, int with_data, const char *run_extra);

// The ssmkit binary under test: $SSMKIT_BIN (make test sets it), else the build's own
// (build-cuda/ssmkit in a CUDA build when it is there, build/ssmkit), from the repository root.
const char *cf_bin(void);

// Runs a shell command; stdout to out_path (if non-NULL), stderr to err_path
// (if non-NULL). Returns the exit status, or 128 + signal when killed.
int cf_run(const char *cmd, const char *out_path, const char *err_path);

// Runs `<env> <cf_bin()> <args>` (env: variable assignments, or NULL) with stdout into
// dir/out.txt and stderr into dir/err.txt; returns cf_run's status.
int cf_ssmkit(const char *dir, const char *env, const char *args);
// dir/<which>.txt of the last cf_ssmkit ("out" or "err"), malloc'd; fails the test if missing.
char *cf_output(const char *dir, const char *which);

// Runs cmd with stdout into dir/stdout.txt and stderr into dir/stderr.txt, the last line of
// stdout into last[0..cap) (when last is non-NULL); when it fails, the tail of its stderr
// goes to this process's stderr. Returns cf_run's status.
int cf_run_last_line(const char *cmd, const char *dir, char *last, size_t cap);
// cf_run_last_line, and the start of stderr into err_text[0..err_cap) (when non-NULL).
int cf_run_capture(const char *cmd, const char *dir, char *last, size_t cap, char *err_text,
                   size_t err_cap);

// Reads a whole file into a malloc'd NUL-terminated string (NULL on failure).
char *cf_read_file(const char *path, long *len);

// The number after "key": in a one-line JSON object; NAN if absent.
double cf_json_number(const char *json, const char *key);
