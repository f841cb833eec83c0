// defines: image_data, image_data_open, image_data_close, SSM_FASHION_MNIST_DIR
// The image recipe behind `data.name: fashion_mnist | mnist | idx`: loads the
// IDX train and test files, holds out a seeded, stratified validation split,
// computes normalisation statistics on the remaining training samples only,
// and sets up three batchers (train: shuffled + augmented; val, test: in
// order, no augmentation).
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "datasets/batch.h"
#include "datasets/dataset.h"

// Where Debian's dataset-fashion-mnist package installs the files.
#define SSM_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    ssm_image_dataset train_ds, test_ds;
    ssm_batcher train, val, test;
    int has_val;
    int64_t n_train, n_val, n_test;
    int64_t C, H, W;
    int32_t num_classes;
    double mean[SSM_IMAGE_MAX_C], std[SSM_IMAGE_MAX_C];
    char dir[SSM_CFG_PATH_MAX];
    int open; // batchers initialised (close frees them)
} image_data;

// test_too = 0 skips the test split (training-only uses, check-grad).
ssm_code image_data_open(image_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                         ssm_error *err);
void image_data_close(image_data *d);
