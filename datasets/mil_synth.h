// defines: mil_synth_opts, mil_synth_write
// A synthetic bag set in CLAM's layout (mil_clam.h), for tests and for the long-bag
// target of issue 11: every instance is a feature vector of N(0, 1) noise; a positive
// bag ("tumor") holds a few "witness" instances shifted by `shift` along one hidden unit
// direction, a negative bag ("normal") none. So the label is decided by a handful of
// instances among thousands, and a model whose attention ranks the witnesses first has
// found them: each h5 file records them in a `witness` [N] dataset (1 = witness), which
// mil_clam.c reads as instance labels (y_tokens).
// Writes, under dir (created if missing):
//   dataset.csv                    case_id,slide_id,label (slide_0000, ...; normal / tumor)
//   h5_files/<slide_id>.h5         features [N, F] float32, coords [N, 2] int64 (a grid,
//                                  256 apart, as CLAM's level-0 patch corners), witness [N]
//   splits/splits_<k>.csv          k = 0..n_splits-1: stratified folds (mil_folds.h), fold k
//                                  tested, val_fraction of the rest for validation
// Deterministic for a seed: bag i draws from its own stream, so n_bags does not change
// the first bags.
#pragma once
#include <stdint.h>

#include "core/error.h"

typedef struct {
    int64_t n_bags;                   // >= 2
    int64_t min_len, max_len;         // instances per bag: uniform in [min_len, max_len]
    int64_t F;                        // features per instance
    int64_t min_witness, max_witness; // witnesses per positive bag (at most its length)
    double shift;                     // witness = noise + shift * direction
    double positive_fraction;         // round(fraction * n_bags) bags are positive
    int64_t n_splits;                 // split files to write (0 = none, else >= 2)
    double val_fraction;              // of each split's training bags
    uint64_t seed;
} mil_synth_opts;

ssm_code mil_synth_write(const char *dir, const mil_synth_opts *o, ssm_error *err);
