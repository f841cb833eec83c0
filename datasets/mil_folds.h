// defines: mil_split, mil_split_free, mil_folds_stratified, mil_split_holdout,
//          mil_split_read_clam, mil_split_write_clam
// Which bags train, validate and test: seeded stratified K-fold cross-validation with
// repeats (the Musk protocol: 10 folds, often repeated), a stratified hold-out, and
// CLAM's split files. Ids are bag indices of a mil_bags set, every list sorted ascending.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "datasets/mil_bags.h"

typedef struct {
    int64_t *train, *val, *test; // malloc'd (an empty list is a non-NULL pointer, count 0)
    int64_t n_train, n_val, n_test;
} mil_split;

void mil_split_free(mil_split *sp);

// Stratified K-fold over bags 0..n-1 with labels [n] in [0, num_classes): for repeat r,
// each class's bags are shuffled (seed, r) and dealt to the folds in turn, the deal
// running on from one class to the next, so every fold holds floor or ceil of each
// class's count / folds and the fold sizes differ by at most one. Fold `fold` is the
// test part; the rest trains, less a stratified val_fraction (mil_split_holdout, seeded
// by (seed, r, fold); 0 = no validation). Every bag is in exactly one test fold of a
// repeat. folds in 2..n, fold in 0..folds-1.
ssm_code mil_folds_stratified(mil_split *sp, const int32_t *labels, int64_t n,
                              int64_t num_classes, int64_t folds, int64_t fold, int64_t repeat,
                              double val_fraction, uint64_t seed, ssm_error *err);

// Splits ids[0..n) into train and val: each class gives round(val_fraction * its count)
// bags (a seeded random choice) to val. Both outputs sorted, malloc'd.
ssm_code mil_split_holdout(const int32_t *labels, int64_t num_classes, const int64_t *ids,
                           int64_t n, double val_fraction, uint64_t seed, int64_t **train,
                           int64_t *n_train, int64_t **val, int64_t *n_val, ssm_error *err);

// CLAM's splits_<k>.csv: a header naming the columns train, val and test (others, such as
// pandas' unnamed index column, are ignored; val may be absent), then rows of slide ids,
// the columns of different lengths (empty cells). A slide not among s's bag names, or in
// two columns, is refused with file:line.
ssm_code mil_split_read_clam(mil_split *sp, const mil_bags *s, const char *path, ssm_error *err);

// Writes sp as CLAM does (",train,val,test", a row index first); names [n bags].
ssm_code mil_split_write_clam(const char *path, char *const *names, const mil_split *sp,
                              ssm_error *err);
