// defines: mil_fmnist_opts, mil_fmnist_open
// Bags of Fashion-MNIST images after Ilse, Tomczak & Welling (2018, "Attention-based deep
// multiple instance learning", MNIST-bags): a bag is a number of images drawn at random
// (with replacement) from one split of Fashion-MNIST, its length round(N(mean, std))
// clipped to >= 1, and its label 1 when it holds at least one image of the target class.
// Instances are the 784 pixels of an image, p / 255 standardised with the training set's
// mean and std (SSM_FASHION_MNIST_MEAN, _STD) when normalize; the instance label is 1 for
// a target-class image (y_tokens). Bags are made from the training images or the test
// images (never both), deterministically from the seed; names "train_17", "test_3".
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "datasets/mil_bags.h"

typedef struct {
    const char *dir;         // the IDX files (datasets/dataset.h, ssm_image_dataset_load_idx)
    int test;                // 0: bags of the 60,000 training images, 1: of the 10,000 test
    int64_t num_bags;        // >= 1
    double mean_len, std_len; // bag length ~ round(N(mean_len, std_len)), at least 1
    int32_t target;          // 0..9: the class that makes a bag positive
    int normalize;           // standardise the pixels (else p / 255)
    uint64_t seed;
} mil_fmnist_opts;

ssm_code mil_fmnist_open(mil_bags *s, const mil_fmnist_opts *o, ssm_error *err);
