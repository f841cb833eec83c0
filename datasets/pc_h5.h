// defines: pc_h5_modelnet_load, pc_h5_scanobjectnn_load, pc_h5_scanobjectnn_file,
//          PC_SCANOBJECTNN_CLASSES
// Point clouds shipped as HDF5 (libhdf5, under datasets/mil_clam.h's lock):
//   modelnet40_ply_hdf5_2048/  (PointNet's; DGCNN and most classification repos)
//       train_files.txt, test_files.txt   one .h5 path per line (as shipped,
//                          `data/modelnet40_ply_hdf5_2048/ply_data_train0.h5`; the file is
//                          looked up by that path under the folder's parent, else by its
//                          name in the folder)
//       shape_names.txt    one class name per line
//       ply_data_*.h5      `data` [n, 2048, 3] float, `label` [n] or [n, 1] integers,
//                          `normal` [n, 2048, 3] (read with data.normals)
//   ScanObjectNN h5_files/ (Uy et al. 2019): <variant folder>/<file> by subset
//       obj_bg     main_split/{training,test}_objectdataset.h5
//       obj_only   main_split_nobg/{training,test}_objectdataset.h5
//       pb_t50_rs  main_split/{training,test}_objectdataset_augmentedrot_scale75.h5
//       `data` [n, 2048, 3], `label` [n], `mask` [n, 2048] (background points; not read).
//       The 15 classes are PC_SCANOBJECTNN_CLASSES. data.path may also be the variant
//       folder itself.
// Sample names are `<file name>#<row>`. A missing dataset, a wrong rank or shape, a
// label outside the classes: refused, naming the file.
#pragma once
#include "core/error.h"
#include "datasets/pc_set.h"

extern const char *const PC_SCANOBJECTNN_CLASSES[15];

// split: "train" or "test".
ssm_code pc_h5_modelnet_load(pc_set *s, const char *dir, const char *split, const pc_prep *o,
                             ssm_error *err);
// subset: obj_bg, obj_only, pb_t50_rs.
ssm_code pc_h5_scanobjectnn_load(pc_set *s, const char *dir, const char *subset,
                                 const char *split, const pc_prep *o, ssm_error *err);
// The file a subset and split name inside h5_files/ ("main_split/..."); NULL for an
// unknown subset.
const char *pc_h5_scanobjectnn_file(const char *subset, const char *split);
