// defines: cf_write_synthetic_idx, cf_pattern_image, cf_run, cf_read_file, cf_json_number
// Helpers for suites that drive the ssmkit binary: a synthetic IDX image
// dataset whose classes are learnable patterns, running commands, reading the
// one-line JSON they print.
#pragma once
#include <stdint.h>

// 28x28 grayscale: class k is a bright 6x6 square at a class-specific place,
// over uniform noise. Writes train-*-ubyte (n_train) and t10k-*-ubyte (n_test)
// into dir. Returns 0 on success.
int cf_write_synthetic_idx(const char *dir, int n_train, int n_test, uint64_t seed);
// One 28x28 image of class k (noise from *state).
void cf_pattern_image(uint8_t *img, int k, uint64_t *state);

// Runs a shell command; stdout to out_path (if non-NULL), stderr to err_path
// (if non-NULL). Returns the exit status, or 128 + signal when killed.
int cf_run(const char *cmd, const char *out_path, const char *err_path);

// Reads a whole file into a malloc'd NUL-terminated string (NULL on failure).
char *cf_read_file(const char *path, long *len);

// The number after "key": in a one-line JSON object; NAN if absent.
double cf_json_number(const char *json, const char *key);
