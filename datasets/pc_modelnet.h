// defines: pc_modelnet_load, pc_modelnet_off_load, pc_modelnet_write, pc_modelnet_class_of,
//          PC_OFF_OVERSAMPLE
// ModelNet's two on-disk layouts (Wu et al. 2015; the resampled one from PointNet++):
//   modelnet40_normal_resampled/   (the PointNet++ / Point-BERT / PointMamba layout)
//       <subset>_shape_names.txt   one class name per line (subset: modelnet40, modelnet10)
//       <subset>_train.txt, <subset>_test.txt   one sample id per line, `airplane_0001`;
//                                  the class is the id without its last `_NNNN` (class
//                                  names may themselves hold underscores: `flower_pot`)
//       <class>/<id>.txt           rows `x,y,z,nx,ny,nz` (10,000 per file)
//   ModelNet40/ (the original meshes)
//       <class>/train/*.off, <class>/test/*.off   classes are the sorted folder names; a
//                                  mesh becomes PC_OFF_OVERSAMPLE x num_points surface
//                                  samples (area-weighted, seeded per file), then the
//                                  recipe's sampling (FPS by default) picks num_points
// Sample names are the ids (txt) or `<class>/<file stem>` (off).
#pragma once
#include "core/error.h"
#include "datasets/pc_set.h"

#define PC_OFF_OVERSAMPLE 4

// split: "train" or "test".
ssm_code pc_modelnet_load(pc_set *s, const char *dir, const char *subset, const char *split,
                          const pc_prep *o, ssm_error *err);
ssm_code pc_modelnet_off_load(pc_set *s, const char *dir, const char *split, const pc_prep *o,
                              ssm_error *err);

// Writes s in the resampled layout under dir (made if missing): <subset>_shape_names.txt
// (when with_names), <subset>_<split>.txt and <class>/<name>.txt (rows x,y,z[,nx,ny,nz],
// %.6f). Names must be `<class>_<NNNN>` ids.
ssm_code pc_modelnet_write(const pc_set *s, const char *dir, const char *subset,
                           const char *split, int with_names, ssm_error *err);

// The class part of an id: "flower_pot_0012" -> "flower_pot" (into out); 0 when the id
// has no `_` followed by digits only.
int pc_modelnet_class_of(char *out, size_t n, const char *id);
