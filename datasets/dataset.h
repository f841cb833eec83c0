// defines: ssm_image_dataset, ssm_image_dataset_load_idx, ssm_image_dataset_free,
//          ssm_image_dataset_split, ssm_image_dataset_stats, ssm_image_dataset_source,
//          SSM_FASHION_MNIST_CLASSES, SSM_FASHION_MNIST_MEAN, SSM_FASHION_MNIST_STD,
//          SSM_MNIST_MEAN, SSM_MNIST_STD
// A small in-memory image dataset (uint8 pixels, int32 labels, class names),
// loaded from the IDX files of MNIST / Fashion-MNIST; its seeded
// train/validation split; its per-channel statistics; and a sample source
// that feeds it, augmented, to the batcher (batch.h).
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/augment.h"
#include "datasets/batch.h"

typedef struct {
    int64_t n, C, H, W;
    uint8_t *pixels;     // [n, C, H, W] 0..255
    int32_t *labels;     // [n] in [0, num_classes)
    int32_t num_classes;
    char **class_names;  // [num_classes], owned
} ssm_image_dataset;

// The ten Fashion-MNIST classes, in label order.
extern const char *const SSM_FASHION_MNIST_CLASSES[10];

// Standard statistics of p/255 over all 60000 training images (population
// std over every pixel), as used by the usual recipes. The tests recompute the
// Fashion-MNIST ones from the real files when they are installed.
#define SSM_FASHION_MNIST_MEAN 0.2860f
#define SSM_FASHION_MNIST_STD 0.3530f
#define SSM_MNIST_MEAN 0.1307f
#define SSM_MNIST_STD 0.3081f

// Loads <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (the first of
// `.gz`, plain, and MNIST's `train-images.idx3-ubyte` spelling that exists)
// for split "train" or "test". num_classes bounds the labels (<= 0: 10);
// class_names [num_classes] may be NULL ("0", "1", ...). Refuses an images /
// labels count mismatch and out-of-range labels, naming both files.
ssm_code ssm_image_dataset_load_idx(ssm_image_dataset *ds, const char *dir, const char *split,
                                    int32_t num_classes, const char *const *class_names,
                                    ssm_error *err);
void ssm_image_dataset_free(ssm_image_dataset *ds);

// Splits sample ids 0..n-1 into train and validation: round(val_fraction * n)
// ids go to validation. Deterministic for a seed. stratified = 1 keeps every
// class's share: each class gives floor(frac * count) ids, and the remaining
// ones go to the classes with the largest remainders (ties: lower class id),
// so the total is still round(frac * n). Both outputs are sorted ascending,
// malloc'd (caller frees); an empty side is a non-NULL pointer with count 0.
ssm_code ssm_image_dataset_split(const ssm_image_dataset *ds, double val_fraction, uint64_t seed,
                                 int stratified, int64_t **train_ids, int64_t *n_train,
                                 int64_t **val_ids, int64_t *n_val, ssm_error *err);

// Per-channel mean and population standard deviation of p/255 over the given
// ids (NULL: all). Recipes compute this on the training split (after the
// validation part is removed) so nothing about validation or test leaks in.
ssm_code ssm_image_dataset_stats(const ssm_image_dataset *ds, const int64_t *ids, int64_t n_ids,
                                 double *mean /* [C] */, double *std /* [C] */, ssm_error *err);

// A sample source over ds (not copied: ds must outlive the batcher) with the
// given augmentation (copied; a->mean/std are used when a->normalize): x is
// [C, H, W] real, y the label. The batcher takes ownership of *src.
ssm_code ssm_image_dataset_source(ssm_sample_source *src, const ssm_image_dataset *ds,
                                  const ssm_augment *a, ssm_error *err);
