// defines: image_data_open, image_data_close (see image_data.h)
#include "datasets/image_data.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"

static ssm_code resolve_dir(char *dir, size_t n, const ssm_data_config *dc, ssm_error *err) {
    if (dc->path[0]) {
        snprintf(dir, n, "%s", dc->path);
        return SSM_OK;
    }
    if (dc->name == SSM_DATA_FASHION_MNIST) {
        snprintf(dir, n, "%s", SSM_FASHION_MNIST_DIR);
        return SSM_OK;
    }
    return ssm_fail(err, SSM_ECONFIG, "data.path: empty; data.name %s needs the folder of its IDX files",
                    dc->name == SSM_DATA_MNIST ? "mnist" : "idx");
}

static ssm_code make_batcher(ssm_batcher *bt, const ssm_image_dataset *ds, const ssm_augment *aug,
                             const int64_t *ids, int64_t n, int64_t batch, int shuffle,
                             int drop_last, uint64_t seed, int prefetch, ssm_error *err) {
    ssm_sample_source src;
    SSM_TRY(ssm_image_dataset_source(&src, ds, aug, err));
    ssm_batcher_opts o = {.batch_size = batch, .shuffle = shuffle, .drop_last = drop_last,
                          .seed = seed, .prefetch = prefetch};
    return ssm_batcher_init(bt, &src, ids, n, &o, err);
}

static ssm_code open_impl(image_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                          ssm_error *err) {
    if (dc->name != SSM_DATA_FASHION_MNIST && dc->name != SSM_DATA_MNIST && dc->name != SSM_DATA_IDX)
        return ssm_fail(err, SSM_ECONFIG, "data.name: not an image dataset");
    SSM_TRY(resolve_dir(d->dir, sizeof d->dir, dc, err));
    const char *const *names = dc->name == SSM_DATA_FASHION_MNIST ? SSM_FASHION_MNIST_CLASSES : NULL;
    ssm_code rc = ssm_image_dataset_load_idx(&d->train_ds, d->dir, "train", 10, names, err);
    if (rc == SSM_EIO && dc->name == SSM_DATA_FASHION_MNIST && !dc->path[0])
        ssm_error_prefix(err, "Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or "
                              "set data.path): ");
    if (rc)
        return rc;
    if (test_too)
        SSM_TRY(ssm_image_dataset_load_idx(&d->test_ds, d->dir, "test", 10, names, err));
    d->C = d->train_ds.C;
    d->H = d->train_ds.H;
    d->W = d->train_ds.W;
    d->num_classes = d->train_ds.num_classes;

    int64_t n_all = d->train_ds.n;
    if (dc->limit > 0 && dc->limit < n_all)
        d->train_ds.n = n_all = dc->limit; // the first `limit` samples (quick runs, tests)
    int64_t *train_ids = NULL, *val_ids = NULL;
    rc = ssm_image_dataset_split(&d->train_ds, dc->val_fraction, ssm_seed_derive(seed, 101), 1,
                                 &train_ids, &d->n_train, &val_ids, &d->n_val, err);
    if (rc)
        return rc;
    double mean[SSM_IMAGE_MAX_C] = {0}, sd[SSM_IMAGE_MAX_C] = {0};
    rc = ssm_image_dataset_stats(&d->train_ds, train_ids, d->n_train, mean, sd, err);
    ssm_augment train_aug = {.pad = dc->augment.random_crop_padding, .hflip = dc->augment.hflip,
                             .erase_p = dc->augment.random_erasing, .normalize = dc->augment.normalize};
    for (int64_t c = 0; c < d->C; c++) {
        d->mean[c] = mean[c];
        d->std[c] = sd[c] > 1e-12 ? sd[c] : 1.0;
        train_aug.mean[c] = (real)d->mean[c];
        train_aug.std[c] = (real)d->std[c];
    }
    ssm_augment plain = train_aug;
    plain.pad = 0;
    plain.hflip = 0;
    plain.erase_p = 0;
    int64_t eval_batch = dc->eval_batch_size > 0 ? dc->eval_batch_size : dc->batch_size;
    int prefetch = dc->num_workers > 0;
    if (!rc)
        rc = make_batcher(&d->train, &d->train_ds, &train_aug, train_ids, d->n_train, dc->batch_size,
                          dc->shuffle, 1, ssm_seed_derive(seed, 102), prefetch, err);
    if (!rc) {
        d->open |= 1;
        d->has_val = d->n_val > 0;
        if (d->has_val) {
            rc = make_batcher(&d->val, &d->train_ds, &plain, val_ids, d->n_val, eval_batch, 0, 0,
                              seed, prefetch, err);
            if (!rc)
                d->open |= 2;
        }
    }
    if (!rc && test_too) {
        d->n_test = d->test_ds.n;
        rc = make_batcher(&d->test, &d->test_ds, &plain, NULL, d->n_test, eval_batch, 0, 0, seed,
                          prefetch, err);
        if (!rc)
            d->open |= 4;
    }
    free(train_ids);
    free(val_ids);
    if (!rc)
        ssm_info("data: %s: %lld train, %lld val, %lld test images of %lldx%lldx%lld", d->dir,
                 (long long)d->n_train, (long long)d->n_val, (long long)d->n_test, (long long)d->C,
                 (long long)d->H, (long long)d->W);
    return rc;
}

ssm_code image_data_open(image_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                         ssm_error *err) {
    memset(d, 0, sizeof *d);
    ssm_code rc = open_impl(d, dc, seed, test_too, err);
    if (rc) // whatever was loaded before the failure (the training images when the test
        image_data_close(d); // files are missing) is freed: the caller gets an empty d
    return rc;
}

void image_data_close(image_data *d) {
    ssm_batchers_free(&d->train, &d->val, &d->test, (unsigned)d->open);
    ssm_image_dataset_free(&d->train_ds);
    ssm_image_dataset_free(&d->test_ds);
    memset(d, 0, sizeof *d);
}
