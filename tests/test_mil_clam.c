// Check suite: CLAM's layout (datasets/mil_clam.h) on sets written by the synthetic writer
// (datasets/mil_synth.h): slides, labels and label maps, lazy reads of whole bags and of
// crops across the reader's block boundary, coordinates as trailing token values, the
// witness instances as instance labels, CLAM split files; and bad files: a CSV naming a
// missing slide, a corrupt file, no `features`, a wrong dtype, rank or width, duplicate
// slides, a split naming an unknown slide.
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/mil_bags.h"
#include "datasets/mil_clam.h"
#include "datasets/mil_folds.h"
#include "datasets/mil_synth.h"
#include "tests/mil_fixture.h"
#include "tests/util/suite.h"

static mil_synth_opts small_opts(void) {
    mil_synth_opts o = {.n_bags = 12, .min_len = 20, .max_len = 60, .F = 8, .min_witness = 1,
                        .max_witness = 3, .shift = 4, .positive_fraction = 0.5, .n_splits = 3,
                        .val_fraction = 0.25, .seed = 9};
    return o;
}

static void open_set(mil_bags *s, const char *dir, int coords, const char *map) {
    char csv[300];
    snprintf(csv, sizeof csv, "%s/dataset.csv", dir);
    mil_clam_opts co = {.csv = csv, .coords = coords, .label_map = map};
    ssm_error e = {0};
    ck_assert_msg(mil_clam_open(s, &co, &e) == SSM_OK, "%s", e.msg);
}

START_TEST(synthetic_set_reads_back) {
    char dir[256];
    mil_tmpdir(dir);
    mil_synth_opts o = small_opts();
    ssm_error e = {0};
    ck_assert_msg(mil_synth_write(dir, &o, &e) == SSM_OK, "%s", e.msg);
    mil_bags s;
    open_set(&s, dir, 1, NULL);
    ck_assert_int_eq(s.n, 12);
    ck_assert_int_eq(s.F, 8);
    ck_assert_int_eq(s.token, 10);
    ck_assert(s.has_coords && s.has_inst_labels);
    ck_assert_str_eq(s.class_names[0], "normal"); // sorted names
    ck_assert_str_eq(s.class_names[1], "tumor");
    int64_t pos = 0;
    real x[60 * 10];
    int32_t y[60];
    double wproj = 0, nproj = 0; // witnesses stand out: larger squared norm
    int64_t nw_all = 0, nn_all = 0;
    for (int64_t i = 0; i < s.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "slide_%04lld", (long long)i);
        ck_assert_str_eq(s.names[i], name);
        ck_assert(s.len[i] >= 20 && s.len[i] <= 60);
        pos += s.label[i];
        ck_assert_int_eq(s.read(&s, i, NULL, s.len[i], x, y, &e), SSM_OK);
        int64_t W = (int64_t)ceil(sqrt((double)s.len[i])), nw = 0;
        for (int64_t t = 0; t < s.len[i]; t++) {
            ck_assert(x[t * 10 + 8] == (real)((t % W) * 256)); // coords after the features
            ck_assert(x[t * 10 + 9] == (real)((t / W) * 256));
            ck_assert(y[t] == 0 || y[t] == 1);
            nw += y[t];
            double sq = 0;
            for (int j = 0; j < 8; j++)
                sq += (double)x[t * 10 + j] * x[t * 10 + j];
            if (y[t]) {
                wproj += sq;
                nw_all++;
            } else {
                nproj += sq;
                nn_all++;
            }
        }
        if (s.label[i])
            ck_assert(nw >= 1 && nw <= 3);
        else
            ck_assert_int_eq(nw, 0);
    }
    ck_assert_int_eq(pos, 6);
    // noise: E|x|^2 = F = 8; witness: 8 + shift^2 = 24
    ck_assert_double_eq_tol(nproj / nn_all, 8, 1);
    ck_assert_double_gt(wproj / nw_all, 16);

    // a label map can reorder the classes
    mil_bags m;
    open_set(&m, dir, 0, "tumor:0,normal:1");
    ck_assert_int_eq(m.token, 8);
    for (int64_t i = 0; i < s.n; i++)
        ck_assert_int_eq(m.label[i], 1 - s.label[i]);
    ck_assert_str_eq(m.class_names[0], "tumor");
    mil_bags_free(&m);
    char csv[300];
    snprintf(csv, sizeof csv, "%s/dataset.csv", dir);
    mil_clam_opts co = {.csv = csv, .label_map = "tumor:1,benign:0"};
    ck_assert_int_eq(mil_clam_open(&m, &co, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "has label 'normal', which data.label_map"), "%s", e.msg);
    co.label_map = "tumor=1";
    ck_assert_int_eq(mil_clam_open(&m, &co, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "expected name:class pairs"), "%s", e.msg);

    // the split files: fold k of a 3-fold deal; every slide tested exactly once
    int tested[12] = {0};
    for (int k = 0; k < 3; k++) {
        char sp_path[300];
        snprintf(sp_path, sizeof sp_path, "%s/splits/splits_%d.csv", dir, k);
        mil_split sp;
        ck_assert_msg(mil_split_read_clam(&sp, &s, sp_path, &e) == SSM_OK, "%s", e.msg);
        ck_assert_int_eq(sp.n_train + sp.n_val + sp.n_test, 12);
        ck_assert_int_eq(sp.n_test, 4);
        ck_assert_int_eq(sp.n_val, 2); // round(0.25 * 4) per class
        for (int64_t i = 0; i < sp.n_test; i++)
            tested[sp.test[i]]++;
        mil_split_free(&sp);
    }
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(tested[i], 1);
    mil_bags_free(&s);
    mil_rmtree(dir);
}
END_TEST

START_TEST(crops_read_the_same_rows_across_blocks) {
    char dir[256];
    mil_tmpdir(dir);
    mil_synth_opts o = small_opts();
    o.n_bags = 2;
    o.min_len = 2500; // more than two of the reader's 1024-row blocks
    o.max_len = 3000;
    o.n_splits = 0;
    o.F = 3;
    ssm_error e = {0};
    ck_assert_msg(mil_synth_write(dir, &o, &e) == SSM_OK, "%s", e.msg);
    mil_bags s;
    open_set(&s, dir, 1, NULL);
    int64_t N = s.len[0], T = s.token;
    real *all = malloc((size_t)(N * T) * sizeof *all), *crop = malloc((size_t)(N * T) * sizeof *crop);
    int32_t *ya = malloc((size_t)N * sizeof *ya), *yc = malloc((size_t)N * sizeof *yc);
    int64_t *rows = malloc((size_t)N * sizeof *rows);
    ck_assert_int_eq(s.read(&s, 0, NULL, N, all, ya, &e), SSM_OK);
    int64_t ks[4] = {1, 37, 1500, N};
    for (int c = 0; c < 4; c++) {
        mil_crop_rows(rows, N, ks[c], 77 + c);
        ck_assert_int_eq(s.read(&s, 0, rows, ks[c], crop, yc, &e), SSM_OK);
        for (int64_t t = 0; t < ks[c]; t++) {
            ck_assert(!memcmp(crop + t * T, all + rows[t] * T, (size_t)T * sizeof *crop));
            ck_assert_int_eq(yc[t], ya[rows[t]]);
        }
    }
    // the first k rows (instance_sampling first)
    ck_assert_int_eq(s.read(&s, 0, NULL, 1100, crop, NULL, &e), SSM_OK);
    ck_assert(!memcmp(crop, all, (size_t)(1100 * T) * sizeof *crop));
    free(all);
    free(crop);
    free(ya);
    free(yc);
    free(rows);
    mil_bags_free(&s);
    mil_rmtree(dir);
}
END_TEST

// Writes h5_files/<slide>.h5 with `features` of the given type and shape (0 rows = none)
// and optionally `coords` [rows, ccols] int64.
static void write_h5(const char *dir, const char *slide, hid_t ftype, hsize_t rows, hsize_t cols,
                     hsize_t ccols) {
    char path[400];
    mil_clam_h5_path(path, sizeof path, dir, slide);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    if (rows) {
        hsize_t dims[2] = {rows, cols};
        hid_t sp = H5Screate_simple(cols ? 2 : 1, dims, NULL);
        hid_t d = H5Dcreate2(f, "features", ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(d >= 0);
        size_t n = (size_t)(rows * (cols ? cols : 1));
        double *v = calloc(n, sizeof *v);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
        H5Dclose(d);
        H5Sclose(sp);
    }
    if (ccols) {
        hsize_t dims[2] = {rows, ccols};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(f, "coords", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int64_t *v = calloc((size_t)(rows * ccols), sizeof *v);
        H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        free(v);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Fclose(f);
}

// Opens dir/dataset.csv (coords as given) and expects code with all needles in the message.
static void expect_open(const char *dir, int coords, ssm_code code, const char *n1,
                        const char *n2) {
    char csv[300];
    snprintf(csv, sizeof csv, "%s/dataset.csv", dir);
    mil_clam_opts co = {.csv = csv, .coords = coords};
    mil_bags s;
    ssm_error e = {0};
    ck_assert_int_eq(mil_clam_open(&s, &co, &e), code);
    ck_assert_msg(strstr(e.msg, n1) && (!n2 || strstr(e.msg, n2)), "'%s' lacks '%s' / '%s'",
                  e.msg, n1, n2 ? n2 : "");
    ck_assert_ptr_null(s.names);
}

START_TEST(bad_files_name_the_slide_and_the_file) {
    char dir[256], path[300];
    mil_tmpdir(dir);
    snprintf(path, sizeof path, "%s/h5_files", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/dataset.csv", dir);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    write_h5(dir, "good", H5T_IEEE_F32LE, 5, 4, 2);
    write_h5(dir, "good2", H5T_IEEE_F32LE, 7, 4, 2);

    tu_write_text(path, "case_id,slide_id,label\nc1,good,a\nc2,good2,b\nc3,gone,a\n");
    expect_open(dir, 0, SSM_EIO, "slide 'gone'", "h5_files/gone.h5: cannot open");
    expect_open(dir, 0, SSM_EIO, "dataset.csv: line 4", NULL);

    char bad[400];
    mil_clam_h5_path(bad, sizeof bad, dir, "gone");
    tu_write_text(bad, "this is not an HDF5 file\n"); // corrupt
    expect_open(dir, 0, SSM_EIO, "slide 'gone'", "not an HDF5 file");

    write_h5(dir, "gone", H5T_IEEE_F32LE, 0, 0, 0); // no features
    expect_open(dir, 0, SSM_EFORMAT, "gone.h5: no dataset 'features'", NULL);

    write_h5(dir, "gone", H5T_STD_I32LE, 5, 4, 0); // integer features
    expect_open(dir, 0, SSM_EFORMAT, "dataset 'features' is not floating-point", "slide 'gone'");

    write_h5(dir, "gone", H5T_IEEE_F32LE, 5, 0, 0); // rank 1
    expect_open(dir, 0, SSM_EFORMAT, "dataset 'features' has rank 1, expected 2", NULL);

    write_h5(dir, "gone", H5T_IEEE_F32LE, 5, 3, 0); // another width than the first slide
    expect_open(dir, 0, SSM_EFORMAT, "'features' is [5, 3], expected [N, 4]", "slide 'gone'");

    write_h5(dir, "gone", H5T_IEEE_F64LE, 5, 4, 0); // float64: converted, fine without coords
    char csv[300];
    snprintf(csv, sizeof csv, "%s/dataset.csv", dir);
    mil_clam_opts co = {.csv = csv};
    mil_bags s;
    ssm_error e = {0};
    ck_assert_msg(mil_clam_open(&s, &co, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.len[2], 5);
    ck_assert(!s.has_inst_labels);
    // a split naming a slide the dataset lacks, or one slide twice
    char sp_path[300];
    snprintf(sp_path, sizeof sp_path, "%s/splits_0.csv", dir);
    tu_write_text(sp_path, ",train,val,test\n0,good,,good2\n1,ghost,,\n");
    mil_split sp;
    ck_assert_int_eq(mil_split_read_clam(&sp, &s, sp_path, &e), SSM_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "line 3, column train: slide 'ghost' is not in the dataset"), "%s",
                  e.msg);
    tu_write_text(sp_path, ",train,val,test\n0,good,good,good2\n");
    ck_assert_int_eq(mil_split_read_clam(&sp, &s, sp_path, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "slide 'good' is already in train (line 2)"), "%s", e.msg);
    tu_write_text(sp_path, ",train,validation\n0,good,good2\n");
    ck_assert_int_eq(mil_split_read_clam(&sp, &s, sp_path, &e), SSM_EFORMAT);
    mil_bags_free(&s);

    // with data.coords: no coords, or coords of the wrong shape
    expect_open(dir, 1, SSM_EFORMAT, "slide 'gone'", "no dataset 'coords'");
    write_h5(dir, "gone", H5T_IEEE_F32LE, 5, 4, 3);
    expect_open(dir, 1, SSM_EFORMAT, "dataset 'coords' is [5, 3], expected [N, 2]", NULL);

    // CSV problems
    tu_write_text(path, "case_id,slide,label\nc1,good,a\n");
    expect_open(dir, 0, SSM_EFORMAT, "the header must name the columns case_id, slide_id", NULL);
    tu_write_text(path, "case_id,slide_id,label\nc1,good,a\nc2,good,b\n");
    expect_open(dir, 0, SSM_EDATA, "slide 'good' is on lines 2 and 3", NULL);
    tu_write_text(path, "case_id,slide_id,label\nc1,good,a\nc2,good2\n");
    expect_open(dir, 0, SSM_EFORMAT, "line 3: 2 fields, the header has 3", NULL);
    tu_write_text(path, "case_id,slide_id,label\nc1,good,a\nc2,good2,a\n");
    expect_open(dir, 0, SSM_EDATA, "1 class", "at least 2");
    mil_rmtree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mil_clam");
    TCase *tc = tcase_create("mil_clam");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, synthetic_set_reads_back);
    tcase_add_test(tc, crops_read_the_same_rows_across_blocks);
    tcase_add_test(tc, bad_files_name_the_slide_and_the_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
