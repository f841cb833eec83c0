// defines: mil_data_is_mil, mil_data_open, mil_data_close, mil_data_bags (see mil_data.h)
#include "datasets/mil_data.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/rng.h"
#include "datasets/image_data.h"
#include "datasets/mil_clam.h"
#include "datasets/mil_fmnist.h"
#include "datasets/mil_musk.h"

int mil_data_is_mil(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_MUSK || dc->name == SSM_DATA_CLAM ||
           dc->name == SSM_DATA_FMNIST_BAGS;
}

const mil_bags *mil_data_bags(const mil_data *d, int split) {
    return split == 2 && d->own_test ? &d->test_bags : &d->bags;
}

static ssm_code make_batcher(mil_data *d, int split, const ssm_data_config *dc, uint64_t seed,
                             const int64_t *ids, int64_t n, ssm_error *err) {
    const mil_bags *s = mil_data_bags(d, split);
    mil_source_opts so = {.max_instances = dc->max_instances,
                          .sampling = dc->instance_sampling == SSM_SAMPLING_FIRST
                                          ? MIL_SAMPLE_FIRST
                                          : MIL_SAMPLE_RANDOM,
                          .mean = d->mean, .std = d->std,
                          .feature_dropout = split == 0 ? dc->augment.feature_dropout : 0};
    static const char *const names[3] = {"training", "validation", "test"};
    for (int64_t i = 0; i < n && dc->max_tokens > 0; i++) { // name the bag, not its index
        int64_t k = s->len[ids[i]];
        k = dc->max_instances > 0 && k > dc->max_instances ? dc->max_instances : k;
        if (k > dc->max_tokens)
            return ssm_fail(err, SSM_EDATA, "%s bag '%s' (id %" PRId64 " of %s) has %" PRId64
                            " instances, more than data.max_tokens = %" PRId64 ": raise "
                            "data.max_tokens, or crop bags with data.max_instances",
                            names[split], s->names[ids[i]], ids[i], s->what, k, dc->max_tokens);
    }
    ssm_sample_source src;
    SSM_TRY(mil_bags_source(&src, s, &so, err));
    int train = split == 0;
    int64_t eval_batch = dc->eval_batch_size > 0 ? dc->eval_batch_size : dc->batch_size;
    ssm_batcher_opts o = {.batch_size = train ? dc->batch_size : eval_batch,
                          .shuffle = train && dc->shuffle,
                          .seed = train ? ssm_seed_derive(seed, 102) : seed,
                          .prefetch = dc->num_workers > 0,
                          .max_tokens = dc->max_tokens,
                          // validation and test crop every bag the same way on every pass
                          .fixed_keys = !train};
    double *w = NULL;
    if (train && dc->weighted_sampling) {
        if (!(w = malloc((size_t)n * sizeof *w))) {
            if (src.free)
                src.free(src.ctx);
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        }
        mil_bags_balance_weights(s, ids, n, w);
        o.sample_weights = w;
    }
    ssm_batcher *bt = split == 0 ? &d->train : split == 1 ? &d->val : &d->test;
    ssm_code rc = ssm_batcher_init(bt, &src, ids, n, &o, err);
    free(w);
    if (rc) {
        return ssm_error_prefix(err, "%s bags of %s: ", names[split], s->what);
    }
    d->open |= 1 << split;
    d->max_tokens[split] = bt->opts.max_tokens;
    return SSM_OK;
}

// Seeded stratified folds over d->bags (musk; clam without split files).
static ssm_code folds(mil_data *d, const ssm_data_config *dc, uint64_t seed, ssm_error *err) {
    if (dc->fold >= dc->folds)
        return ssm_fail(err, SSM_ECONFIG, "data.fold %" PRId64 ": expected 0..%" PRId64
                        " (data.folds - 1)", dc->fold, dc->folds - 1);
    if (dc->folds > d->bags.n)
        return ssm_fail(err, SSM_ECONFIG, "data.folds %" PRId64 ": %s has only %" PRId64 " bags",
                        dc->folds, d->bags.what, d->bags.n);
    return mil_folds_stratified(&d->split, d->bags.label, d->bags.n, d->bags.num_classes,
                                dc->folds, dc->fold, dc->repeat, dc->val_fraction,
                                ssm_seed_derive(seed, 103), err);
}

static ssm_code open_bags(mil_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                         ssm_error *err) {
    if (dc->name == SSM_DATA_MUSK) {
        if (!d->path[0])
            return ssm_fail(err, SSM_ECONFIG, "data.path: empty; data.name musk needs the CSV "
                            "(label,bag_id,f1..fd), e.g. ${SSMKIT_DATA}/mil/musk1.csv");
        SSM_TRY(mil_musk_read(&d->bags, d->path, err));
        return folds(d, dc, seed, err);
    }
    if (dc->name == SSM_DATA_CLAM) {
        if (!d->path[0])
            return ssm_fail(err, SSM_ECONFIG, "data.path: empty; data.name clam needs CLAM's "
                            "dataset CSV (case_id,slide_id,label)");
        mil_clam_opts co = {.csv = d->path, .features_dir = dc->features_dir,
                            .label_map = dc->label_map, .coords = dc->coords};
        SSM_TRY(mil_clam_open(&d->bags, &co, err));
        if (!dc->splits_dir[0])
            return folds(d, dc, seed, err);
        char sp[SSM_CFG_PATH_MAX + 64];
        snprintf(sp, sizeof sp, "%s/splits_%" PRId64 ".csv", dc->splits_dir, dc->fold);
        return mil_split_read_clam(&d->split, &d->bags, sp, err);
    }
    const char *dir = d->path[0] ? d->path : SSM_FASHION_MNIST_DIR;
    mil_fmnist_opts fo = {.dir = dir, .num_bags = dc->num_bags, .mean_len = dc->bag_mean_len,
                          .std_len = dc->bag_std_len, .target = (int32_t)dc->bag_target_class,
                          .normalize = dc->augment.normalize, .seed = ssm_seed_derive(seed, 104)};
    ssm_code rc = mil_fmnist_open(&d->bags, &fo, err);
    if (rc == SSM_EIO && !d->path[0])
        ssm_error_prefix(err, "Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or "
                              "set data.path): ");
    if (rc)
        return rc;
    d->own_test = 1;
    if (test_too) { // the test images are read only when the test split is asked for
        fo.test = 1;
        fo.num_bags = dc->num_test_bags;
        fo.seed = ssm_seed_derive(seed, 105);
        SSM_TRY(mil_fmnist_open(&d->test_bags, &fo, err));
    }
    int64_t *all = malloc((size_t)d->bags.n * sizeof *all);
    d->split.test = malloc((size_t)(d->test_bags.n + 1) * sizeof *d->split.test);
    if (!all || !d->split.test) {
        free(all);
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < d->bags.n; i++)
        all[i] = i;
    for (int64_t i = 0; i < d->test_bags.n; i++)
        d->split.test[i] = i;
    d->split.n_test = d->test_bags.n;
    rc = mil_split_holdout(d->bags.label, 2, all, d->bags.n, dc->val_fraction,
                           ssm_seed_derive(seed, 103), &d->split.train, &d->split.n_train,
                           &d->split.val, &d->split.n_val, err);
    free(all);
    return rc;
}

ssm_code mil_data_open(mil_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                       ssm_error *err) {
    memset(d, 0, sizeof *d);
    if (!mil_data_is_mil(dc))
        return ssm_fail(err, SSM_ECONFIG, "data.name: not a MIL dataset (musk, clam, fmnist_bags)");
    snprintf(d->path, sizeof d->path, "%s", dc->path);
    ssm_code rc = open_bags(d, dc, seed, test_too, err);
    if (rc == SSM_OK && d->split.n_train < 1)
        rc = ssm_fail(err, SSM_EDATA, "%s: no training bags in this split", d->bags.what);
    if (rc == SSM_OK && dc->augment.normalize && dc->name == SSM_DATA_MUSK) {
        d->mean = malloc((size_t)d->bags.F * sizeof *d->mean);
        d->std = malloc((size_t)d->bags.F * sizeof *d->std);
        rc = !d->mean || !d->std ? ssm_fail(err, SSM_ENOMEM, "out of memory")
                                 : mil_bags_feature_stats(&d->bags, d->split.train,
                                                          d->split.n_train, d->mean, d->std, err);
    }
    if (rc == SSM_OK)
        rc = make_batcher(d, 0, dc, seed, d->split.train, d->split.n_train, err);
    if (rc == SSM_OK && d->split.n_val > 0) {
        rc = make_batcher(d, 1, dc, seed, d->split.val, d->split.n_val, err);
        d->has_val = rc == SSM_OK;
    }
    if (rc == SSM_OK && test_too && d->split.n_test > 0)
        rc = make_batcher(d, 2, dc, seed, d->split.test, d->split.n_test, err);
    if (rc) {
        mil_data_close(d);
        return rc;
    }
    d->n_train = d->split.n_train;
    d->n_val = d->split.n_val;
    d->n_test = d->split.n_test;
    d->F = d->bags.F;
    d->token = d->bags.token;
    d->has_coords = d->bags.has_coords;
    d->has_inst_labels = d->bags.has_inst_labels;
    d->num_classes = d->bags.num_classes;
    d->class_names = d->bags.class_names;
    int64_t lo = INT64_MAX, hi = 0;
    for (int64_t i = 0; i < d->bags.n; i++) {
        lo = d->bags.len[i] < lo ? d->bags.len[i] : lo;
        hi = d->bags.len[i] > hi ? d->bags.len[i] : hi;
    }
    ssm_info("data: %s: %lld bags of %lld..%lld instances x %lld features, %lld classes; "
             "%lld train, %lld val, %lld test bags; batches of at most %lld instances",
             d->bags.what, (long long)d->bags.n, (long long)lo, (long long)hi, (long long)d->F,
             (long long)d->num_classes, (long long)d->n_train, (long long)d->n_val,
             (long long)d->n_test, (long long)d->max_tokens[0]);
    return SSM_OK;
}

void mil_data_close(mil_data *d) {
    ssm_batchers_free(&d->train, &d->val, &d->test, (unsigned)d->open);
    mil_bags_free(&d->bags);
    mil_bags_free(&d->test_bags);
    mil_split_free(&d->split);
    free(d->mean);
    free(d->std);
    memset(d, 0, sizeof *d);
}
