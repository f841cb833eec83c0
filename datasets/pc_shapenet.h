// defines: pc_shapenet_load, pc_shapenet_write, pc_shapenet_synset, pc_json_strings,
//          PC_SHAPENET_PARTS, PC_SHAPENET_NUM_PARTS, PC_SHAPENET_MAX_CATS
// ShapeNetPart (Yi et al. 2016) in PointNet++'s
// `shapenetcore_partanno_segmentation_benchmark_v0_normal/` layout:
//   synsetoffset2category.txt   `Airplane<TAB>02691156`: the 16 categories, in file order
//   train_test_split/shuffled_{train,val,test}_file_list.json
//                               a JSON array of `shape_data/<synset>/<id>` strings
//   <synset>/<id>.txt           rows `x y z nx ny nz part` (part: 0..49, global ids)
// A cloud's label is its category; its points carry their part ids (pc_set.parts).
// split: train, val, test, or trainval (train then val, as PointMamba trains).
// Each category's parts (pc_set.part_range): ShapeNetPart's table for a file of its 16
// categories (every label checked against it); for another set in the same layout (the
// generated parts set, 1..64 categories) the labels each category's shapes carry, which
// must form a range of part ids of its own, every category present in the split.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "datasets/pc_set.h"

#define PC_SHAPENET_NUM_PARTS 50
#define PC_SHAPENET_MAX_CATS 64

// The part ids of each category, in the order of synsetoffset2category.txt:
// {first, count} (Airplane 0..3, Bag 4..5, ..., Table 47..49).
extern const int32_t PC_SHAPENET_PARTS[16][2];

ssm_code pc_shapenet_load(pc_set *s, const char *dir, const char *split, const pc_prep *o,
                          ssm_error *err);

// Writes s (points with normals, C = 6, and parts) in the layout above: the split's JSON
// list, one `<synset>/<name>.txt` per shape (`x y z nx ny nz part`, 6 decimals), and with
// with_categories synsetoffset2category.txt. The synset of class k is pc_shapenet_synset's.
ssm_code pc_shapenet_write(const pc_set *s, const char *dir, const char *split,
                           int with_categories, ssm_error *err);
// The 8-digit synset id the writer gives class k ("90000000" + k).
void pc_shapenet_synset(char *out, size_t n, int32_t k);

// The strings of a JSON array of strings (escapes \" \\ \/ \n \t \uXXXX for ASCII), as a
// malloc'd array (each string malloc'd). Anything else is an error naming the file and
// the line.
ssm_code pc_json_strings(char ***out, int64_t *n, const char *path, ssm_error *err);
