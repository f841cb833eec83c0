// defines: mil_data, mil_data_is_mil, mil_data_open, mil_data_close, mil_data_bags
// The multiple-instance recipes behind `data.name: musk | clam | fmnist_bags`, the MIL
// twin of series_data.h: from the config to train / val / test batchers of RAGGED batches
// (datasets/batch.h: x [tokens, token] packed, offsets, y [B] bag labels, y_tokens
// [tokens] instance labels when the data has them) and the facts a MIL task needs.
//
//   musk         data.path: the classic benchmarks' CSV (mil_musk.h). Folds: seeded
//                stratified K-fold (data.folds, data.fold, data.repeat; mil_folds.h);
//                data.val_fraction of the training bags validate. With
//                data.augment.normalize, features are standardised with the statistics
//                of the fold's training bags.
//   clam         data.path: CLAM's dataset CSV; h5_files/ in data.features_dir (empty: the
//                CSV's folder); data.label_map; data.coords (tokens [F + 2]). Splits:
//                data.splits_dir/splits_<data.fold>.csv, or (empty) seeded stratified
//                folds as musk. Features are used as stored (no standardisation: CLAM's
//                extractors already normalise, and a pass over every slide would be slow).
//   fmnist_bags  data.path: the Fashion-MNIST IDX folder (empty: the Debian one).
//                data.num_bags training bags from the training images (data.val_fraction
//                of them validate), data.num_test_bags from the test images;
//                data.bag_target_class, data.bag_mean_len, data.bag_std_len (mil_fmnist.h).
//
// Every split: data.max_instances crops a longer bag (data.instance_sampling: random,
// drawn from the sample key, or first; training draws a fresh crop every epoch, validation
// and test the same crop on every pass: their batchers have fixed_keys);
// data.augment.feature_dropout drops training features (mil_source_opts); data.max_tokens bounds a batch (0 = the exact worst
// case of that split; a longer bag is refused by name). The training batcher shuffles
// (data.shuffle) and keeps its last partial batch; with data.weighted_sampling it draws
// the epoch's bags with replacement, the classes equally often (CLAM). Val and test keep
// every bag in order. Sample ids of a batch (batch->index) are bag indices of
// mil_data_bags(d, split): names, labels and lengths for predictions.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "datasets/batch.h"
#include "datasets/mil_bags.h"
#include "datasets/mil_folds.h"

typedef struct {
    mil_bags bags;            // musk, clam: every bag; fmnist_bags: the training bags
    mil_bags test_bags;       // fmnist_bags: the test bags (from the test images)
    int own_test;             // 1: test ids index test_bags (fmnist_bags)
    mil_split split;          // bag ids of train, val, test
    ssm_batcher train, val, test;
    int has_val;
    int64_t n_train, n_val, n_test;
    int64_t F;                // features per instance
    int64_t token;            // values per token in x: F, or F + 2 with data.coords
    int has_coords;           // tokens end with the patch's (x, y) (clam, data.coords)
    int has_inst_labels;      // y_tokens holds instance labels (musk, fmnist_bags, synthetic)
    int64_t num_classes;
    char **class_names;       // [num_classes] (bags.class_names)
    int64_t max_tokens[3];    // the rows of x each batcher holds (train, val, test; 0 = none)
    double *mean, *std;       // [F] musk standardisation (training bags' statistics) or NULL
    char path[SSM_CFG_PATH_MAX];
    int open;                 // which batchers exist (close frees them)
} mil_data;

// 1 when data.name is a MIL recipe (musk, clam, fmnist_bags).
int mil_data_is_mil(const ssm_data_config *dc);

// seed: run.seed (folds, bags, shuffles and crops derive from it). test_too = 0 skips the
// test batcher (and, for fmnist_bags, the test images: n_test is then 0). On error everything is freed (mil_data_close is still safe).
ssm_code mil_data_open(mil_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                       ssm_error *err);
void mil_data_close(mil_data *d);

// The bag set whose ids the batcher of split (0 train, 1 val, 2 test) yields.
const mil_bags *mil_data_bags(const mil_data *d, int split);
