// defines: mil_clam_opts, mil_clam_open, mil_clam_open_files, mil_clam_h5_path, mil_h5_lock,
//          mil_h5_unlock
// CLAM's layout of whole-slide-image features (Lu et al. 2021, github.com/mahmoodlab/CLAM):
//   dataset CSV      a header naming case_id, slide_id and label (other columns ignored),
//                    one slide per row; label a class name ("normal", "tumor")
//   h5_files/<slide_id>.h5
//                    `features` [N, D] floating point (float32 as CLAM writes it), one row
//                    per patch; `coords` [N, 2] integers, the patch's (x, y) at level 0;
//                    optionally `witness` [N] integers (the synthetic sets of mil_synth.h:
//                    1 for the instances that decide the label) read as instance labels
// Label names map to classes through a map ("normal:0,tumor:1"; several names may share a
// class) or, without one, the sorted distinct names are classes 0, 1, ...
// Open reads the CSV and every file's dataset shapes (not the features); a bag's rows are
// read when it is asked for, in blocks (a 100,000 x 1,024 bag is never held twice).
// Missing or corrupt files, a missing dataset, a wrong rank, shape or type, a feature
// width that differs between slides: refused, naming the slide and the file.
// libhdf5 is called under one lock (mil_h5_lock), so reads from several threads are safe
// whatever the library's build.
#pragma once
#include "core/error.h"
#include "datasets/mil_bags.h"

typedef struct {
    const char *csv;          // the dataset CSV
    const char *features_dir; // the folder holding h5_files/; NULL or "" = the CSV's folder
    const char *label_map;    // "name:class,name:class"; NULL or "" = sorted distinct names
    int coords;               // tokens are [F + 2]: features, then the patch's x and y
} mil_clam_opts;

ssm_code mil_clam_open(mil_bags *s, const mil_clam_opts *o, ssm_error *err);

// Feature files named one by one, without the dataset CSV (`ssmkit predict` on .h5 files):
// bag i is paths[i] (its name, copied), label 0; the same checks and lazy reads as above.
ssm_code mil_clam_open_files(mil_bags *s, char *const *paths, int64_t n, int coords,
                             ssm_error *err);

// <features_dir>/h5_files/<slide>.h5 into out.
void mil_clam_h5_path(char *out, size_t n, const char *features_dir, const char *slide);

// The one lock around libhdf5 (also taken by mil_synth.c's writer). The first lock turns
// off libhdf5's own error printing: errors come back as values with the slide named.
void mil_h5_lock(void);
void mil_h5_unlock(void);
