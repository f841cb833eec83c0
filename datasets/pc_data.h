// defines: pc_data, pc_data_is_points, pc_data_open, pc_data_close, pc_points_source,
//          PC_SHAPES_SEED
// The point-cloud recipes behind `data.name: modelnet | modelnet_off | modelnet_h5 |
// scanobjectnn | shapes | shapenetpart | parts`, the point twin of image_data.h and
// mil_data.h: from the config to train / val / test batchers of dense batches x [B,
// num_points, C] (C = 3, or 6 with data.normals) and y [B] class labels; the segmentation
// sets also give y_tokens [B, num_points] (each point's part; y is the shape's category).
//
//   modelnet      data.path: `modelnet40_normal_resampled/` (pc_modelnet.h); data.subset
//                 modelnet40 (default) or modelnet10
//   modelnet_off  data.path: the folder of `<class>/{train,test}/*.off` meshes, sampled by
//                 area at load
//   modelnet_h5   data.path: `modelnet40_ply_hdf5_2048/` (pc_h5.h)
//   scanobjectnn  data.path: ScanObjectNN's `h5_files/`; data.subset pb_t50_rs (default),
//                 obj_bg or obj_only
//   shapes        the generated set (pc_shapes.h, seed PC_SHAPES_SEED: the same set for
//                 every run): data.shapes_per_class training shapes per class, a quarter as
//                 many test shapes; 2 x num_points surface samples per shape before the
//                 sampling. Empty data.path: made in memory. Else the folder holds it in
//                 ModelNet's layout (subset `shapes`), written there first if absent.
//   shapenetpart  data.path: `shapenetcore_partanno_segmentation_benchmark_v0_normal/`
//                 (pc_shapenet.h): training on train + val (PointMamba), test on test
//   parts         the generated part-segmentation set (pc_parts.h, seed PC_PARTS_SEED),
//                 sized as shapes (data.shapes_per_class per category); empty data.path:
//                 in memory, else in ShapeNetPart's layout there, written first if absent
//
// Every cloud is reduced to data.num_points at load (data.point_sampling: FPS by default)
// and, with data.augment.normalize, centred and scaled to the unit sphere. data.limit
// keeps the first N training clouds (quick runs). data.val_fraction of the training
// clouds (a seeded stratified choice) validate. The training batcher shuffles
// (data.shuffle), drops its last partial batch and augments each cloud from its sample
// key (data.augment.scale_translate, rotate_up, jitter, point_dropout); val and test keep
// every cloud in order, unaugmented.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "datasets/batch.h"
#include "datasets/pc_augment.h"
#include "datasets/pc_set.h"

#define PC_SHAPES_SEED 20240613u
#define PC_PARTS_SEED 20240614u

typedef struct {
    pc_set train_set, test_set;
    ssm_batcher train, val, test;
    int has_val;
    int64_t n_train, n_val, n_test;
    int64_t P, C;               // one sample x [P, C]
    int32_t num_classes;        // classes; the categories of a segmentation set
    int32_t num_parts;          // segmentation (shapenetpart, parts): part ids 0..num_parts-1
    const int32_t *part_range;  // [num_classes, 2] each category's parts (train_set's), or NULL
    char path[SSM_CFG_PATH_MAX];
    int open;                   // which batchers exist (close frees them)
} pc_data;

// 1 when data.name is a point-cloud recipe.
int pc_data_is_points(const ssm_data_config *dc);

// seed: run.seed. test_too = 0 skips the test split (nothing of it is read).
ssm_code pc_data_open(pc_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                      ssm_error *err);
void pc_data_close(pc_data *d);

// A sample source over s (not copied: s must outlive the batcher): x [P, C], y the label,
// augmented by a (copied; all off = the cloud as stored).
ssm_code pc_points_source(ssm_sample_source *src, const pc_set *s, const pc_augment *a,
                          ssm_error *err);
