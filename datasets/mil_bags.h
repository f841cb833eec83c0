// defines: mil_bags, mil_read_fn, mil_bags_free, mil_bags_alloc, mil_bags_set_name, mil_bags_find,
//          mil_bags_feature_stats, mil_bags_balance_weights, mil_sampling, mil_source_opts,
//          mil_bags_source, mil_crop_rows
// A set of multiple-instance bags (MIL): n bags, each a variable number of instances of F
// features, one label per bag, and whatever a MIL task needs about them (class names,
// bag names for predictions, per-instance labels when the data has them). The readers
// fill it: in memory (mil_musk.c: the classic benchmarks' CSV; mil_fmnist.c: bags of
// Fashion-MNIST images) or lazily from disk (mil_clam.c: one HDF5 file per slide, read
// when the bag is asked for). mil_bags_source turns it into a ragged sample source
// (datasets/batch.h) that crops long bags (data.max_instances) and standardises features.
//
// Thread safety: `read` may be called from several threads at once (the training
// batcher's prefetch thread and an evaluation batcher); every reader allows it.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/batch.h"

typedef struct mil_bags mil_bags;

// Reads rows rows[0..k) of bag `bag` (ascending, distinct; NULL = rows 0..k-1) into
// x [k, token] (the F features, then the 2 coordinates when has_coords) and, when inst_y
// is non-NULL, their instance labels into inst_y [k] (-1 where the set has none).
typedef ssm_code (*mil_read_fn)(const mil_bags *s, int64_t bag, const int64_t *rows, int64_t k,
                                real *x, int32_t *inst_y, ssm_error *err);

struct mil_bags {
    int64_t n;              // bags
    int64_t F;              // features per instance
    int64_t token;          // values per token in x: F, or F + 2 with coords
    int has_coords;         // tokens end with the instance's (x, y) patch coordinates
    int has_inst_labels;    // per-instance labels exist (musk rows, fmnist image classes,
                            // the synthetic set's witnesses)
    int64_t num_classes;    // >= 2
    char **class_names;     // [num_classes]
    char **names;           // [n] bag names (musk bag_id, CLAM slide_id, "train_17")
    int32_t *label;         // [n] bag labels in [0, num_classes)
    int64_t *len;           // [n] instances of each bag (>= 1), before any crop
    char what[512];         // where the bags come from, for messages (a file, a folder)
    mil_read_fn read;
    void *impl;             // the reader's own state, freed by impl_free
    void (*impl_free)(void *impl);
};

// Frees everything a reader filled (impl through impl_free); *s is zeroed.
void mil_bags_free(mil_bags *s);

// Allocates names [n], label [n], len [n] and class_names [num_classes] (names "0", "1",
// ... unless given), for readers.
ssm_code mil_bags_alloc(mil_bags *s, int64_t n, int64_t num_classes,
                        const char *const *class_names, ssm_error *err);
// Sets names[i] to a copy of name.
ssm_code mil_bags_set_name(mil_bags *s, int64_t i, const char *name, ssm_error *err);

// The bag named `name`, or -1.
int64_t mil_bags_find(const mil_bags *s, const char *name);

// Per-feature mean and population standard deviation of the instances of the bags
// ids[0..n_ids) (the training bags: nothing of validation or test leaks in). A feature
// constant over those instances gets std 1, so it maps to 0. mean, std: [F], caller's.
ssm_code mil_bags_feature_stats(const mil_bags *s, const int64_t *ids, int64_t n_ids,
                                double *mean, double *std, ssm_error *err);

// Class-balanced sampling weights of the bags ids[0..n_ids) as CLAM's sampler:
// w[i] = n_ids / count(label of ids[i]) among those bags.
void mil_bags_balance_weights(const mil_bags *s, const int64_t *ids, int64_t n_ids, double *w);

typedef enum { MIL_SAMPLE_RANDOM = 0, MIL_SAMPLE_FIRST } mil_sampling;

typedef struct {
    int64_t max_instances;  // a longer bag is cropped to this many instances, 0 = never
    mil_sampling sampling;  // random: a seeded subset kept in bag order; first: the first ones
    const double *mean;     // [F] standardise x = (x - mean) / std before batching, or NULL
    const double *std;      // [F] (copied)
    // Training only: each feature value of an instance (not its coordinates) is zeroed with
    // probability feature_dropout and the others scaled by 1 / (1 - feature_dropout), after
    // standardisation (nn.Dropout on the inputs), drawn from the sample key. 0 = off.
    double feature_dropout;
} mil_source_opts;

// The rows a crop keeps of a bag of len instances for the sample key (pure in (len, k,
// key)): random picks k of them uniformly (selection sampling), ascending. rows [k].
void mil_crop_rows(int64_t *rows, int64_t len, int64_t k, uint64_t key);

// A ragged sample source over s (not copied: s must outlive the batcher): x is the bag
// [count, token], y its label, y_tokens its instance labels when s has them. count(id) =
// min(len, max_instances). The batcher takes ownership of *src. Refuses a
// feature_dropout outside [0, 1).
ssm_code mil_bags_source(ssm_sample_source *src, const mil_bags *s, const mil_source_opts *o,
                         ssm_error *err);
