// Check suite: the point-cloud dataset layouts, sampling, augmentation, the generated
// shapes and the pc_data recipe, on fixtures written here:
//  - ModelNet resampled layout: a set written by pc_modelnet_write (class names with
//    underscores) reads back point for point; an id of an unknown class and a missing
//    cloud file are refused naming the list file and line / the file
//  - the .off layout: classes from the sorted folders, the split's meshes sampled
//  - HDF5: a modelnet40_ply_hdf5_2048 folder (file list in the shipped `data/...` form,
//    labels [n, 1] uint8, normals) and a ScanObjectNN PB_T50_RS file (labels int64);
//    a label out of range and a missing file are refused by name
//  - ShapeNetPart: categories, split JSONs (train, trainval), part labels carried
//    through sampling; a part of another category is refused with file:line
//  - sampling (fps / random / first, fewer points than asked), normalisation,
//    augmentation (pure in the key, each transform's range, normals turned)
//  - the generated shapes: a pure function of (seed, split, index), train and test apart
//  - the recipe: shapes in memory and written to a folder (ModelNet layout) give the same
//    clouds; batches [B, P, C] with labels; val split stratified; bad data.subset refused
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "datasets/augment.h"
#include "datasets/pc_data.h"
#include "datasets/pc_h5.h"
#include "datasets/pc_modelnet.h"
#include "datasets/pc_shapenet.h"
#include "datasets/pc_shapes.h"

static char tmp[256];

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ssm_pc_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_text(const char *rel, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void sub(const char *rel) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    ck_assert(mkdir(path, 0755) == 0);
}

static void expect_error(ssm_code rc, const ssm_error *e, const char *a, const char *b) {
    ck_assert_int_ne(rc, SSM_OK);
    ck_assert_msg(strstr(e->msg, a) && (!b || strstr(e->msg, b)), "message '%s' lacks '%s' / '%s'",
                  e->msg, a, b ? b : "");
}

START_TEST(modelnet_round_trip) {
    ssm_error e = {0};
    pc_prep o = {.num_points = 40, .sampling = PC_SAMPLE_FIRST, .normals = 1, .normalize = 1};
    pc_set s;
    ck_assert_int_eq(pc_shapes_load(&s, 2, 40, 1, "train", &o, &e), SSM_OK);
    free(s.class_names[0]); // a class name with an underscore, as flower_pot
    s.class_names[0] = strdup("flower_pot");
    for (int i = 0; i < 2; i++) {
        free(s.names[i]);
        char nm[32];
        snprintf(nm, sizeof nm, "flower_pot_%04d", i + 1);
        s.names[i] = strdup(nm);
    }
    char dir[400];
    snprintf(dir, sizeof dir, "%s/mn", tmp);
    ck_assert_int_eq(pc_modelnet_write(&s, dir, "modelnet40", "train", 1, &e), SSM_OK);
    pc_set r;
    ck_assert_int_eq(pc_modelnet_load(&r, dir, "modelnet40", "train", &o, &e), SSM_OK);
    ck_assert_int_eq(r.n, s.n);
    ck_assert_int_eq(r.num_classes, 10);
    ck_assert_str_eq(r.names[1], "flower_pot_0002");
    for (int64_t i = 0; i < s.n; i++)
        ck_assert_int_eq(r.labels[i], s.labels[i]);
    double md = 0;
    for (int64_t i = 0; i < s.n * s.P * s.C; i++)
        md = fmax(md, fabs(r.points[i] - s.points[i]));
    ck_assert_msg(md < 1e-5, "max difference %g after the text round trip", md);
    pc_set_free(&r);
    char bad[200];
    snprintf(bad, sizeof bad, "mn/modelnet40_test.txt");
    write_text(bad, "box_0001\nchair_0001\n");
    expect_error(pc_modelnet_load(&r, dir, "modelnet40", "test", &o, &e), &e,
                 "modelnet40_test.txt:2:", "chair_0001");
    write_text(bad, "box_0001\nbox_0099\n");
    expect_error(pc_modelnet_load(&r, dir, "modelnet40", "test", &o, &e), &e, "box/box_0099.txt",
                 NULL);
    char cls[32];
    ck_assert(pc_modelnet_class_of(cls, sizeof cls, "flower_pot_0012") && !strcmp(cls, "flower_pot"));
    ck_assert(!pc_modelnet_class_of(cls, sizeof cls, "flower_pot"));
    ck_assert(!pc_modelnet_class_of(cls, sizeof cls, "a_12b"));
    pc_set_free(&s);
}
END_TEST

START_TEST(off_layout) {
    sub("off");
    const char *cls[2] = {"cone", "box"};
    for (int c = 0; c < 2; c++) {
        char d[100];
        snprintf(d, sizeof d, "off/%s", cls[c]);
        sub(d);
        snprintf(d, sizeof d, "off/%s/train", cls[c]);
        sub(d);
        for (int i = 0; i < 2; i++) {
            char f[100];
            snprintf(f, sizeof f, "off/%s/train/%s_%04d.off", cls[c], cls[c], i + 1);
            write_text(f, "OFF3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n");
        }
    }
    write_text("off/box/train/notes.txt", "not a mesh\n");
    ssm_error e = {0};
    pc_prep o = {.num_points = 16, .sampling = PC_SAMPLE_FPS, .normals = 1, .seed = 3};
    pc_set s;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/off", tmp);
    ck_assert_int_eq(pc_modelnet_off_load(&s, dir, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(s.n, 4);
    ck_assert_int_eq(s.num_classes, 2);
    ck_assert_str_eq(s.class_names[0], "box"); // sorted
    ck_assert_str_eq(s.names[3], "cone/cone_0002");
    ck_assert_int_eq(s.labels[3], 1);
    for (int64_t i = 0; i < s.n * s.P; i++) // on the triangle, normal +z
        ck_assert(s.points[i * 6 + 2] == 0 && s.points[i * 6 + 5] == 1 &&
                  s.points[i * 6] + s.points[i * 6 + 1] <= 1 + 1e-6);
    pc_set_free(&s);
    expect_error(pc_modelnet_off_load(&s, dir, "test", &o, &e), &e, "test", NULL);
}
END_TEST

static void h5_write(const char *path, int64_t n, int64_t P, hid_t label_type, int label_2d,
                     int normals, int bad_label) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    hsize_t dd[3] = {(hsize_t)n, (hsize_t)P, 3}, dl[2] = {(hsize_t)n, 1};
    float *data = malloc((size_t)(n * P * 3) * sizeof *data);
    for (int64_t i = 0; i < n * P * 3; i++)
        data[i] = (float)((i % 7) - 3) * 0.1f + (float)(i / (P * 3));
    hid_t sp = H5Screate_simple(3, dd, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    if (normals) {
        for (int64_t i = 0; i < n * P * 3; i++)
            data[i] = i % 3 == 1;
        d = H5Dcreate2(f, "normal", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
        H5Dclose(d);
    }
    H5Sclose(sp);
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    for (int64_t i = 0; i < n; i++)
        lab[i] = (int32_t)(i % 3) + (bad_label && i == n - 1 ? 40 : 0);
    sp = H5Screate_simple(label_2d ? 2 : 1, dl, NULL);
    d = H5Dcreate2(f, "label", label_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    free(data);
    free(lab);
}

START_TEST(hdf5_layouts) {
    ssm_error e = {0};
    sub("data");
    sub("data/modelnet40_ply_hdf5_2048");
    char path[600], dir[400];
    snprintf(dir, sizeof dir, "%s/data/modelnet40_ply_hdf5_2048", tmp);
    snprintf(path, sizeof path, "%s/ply_data_train0.h5", dir);
    h5_write(path, 5, 64, H5T_STD_U8LE, 1, 1, 0);
    snprintf(path, sizeof path, "%s/ply_data_train1.h5", dir);
    h5_write(path, 3, 64, H5T_STD_U8LE, 1, 1, 0);
    write_text("data/modelnet40_ply_hdf5_2048/train_files.txt",
               "data/modelnet40_ply_hdf5_2048/ply_data_train0.h5\n"
               "data/modelnet40_ply_hdf5_2048/ply_data_train1.h5\n");
    write_text("data/modelnet40_ply_hdf5_2048/shape_names.txt", "a\nb\nc\n");
    pc_prep o = {.num_points = 64, .sampling = PC_SAMPLE_FIRST, .normals = 1};
    pc_set s;
    ck_assert_int_eq(pc_h5_modelnet_load(&s, dir, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(s.n, 8);
    ck_assert_int_eq(s.C, 6);
    ck_assert_int_eq(s.labels[6], 1); // file 1, row 1
    ck_assert_str_eq(s.names[6], "ply_data_train1.h5#1");
    for (int64_t j = 0; j < 64 * 3; j++) { // file 1, row 1, as h5_write made it
        int64_t i = 64 * 3 + j;
        ck_assert(fabs(s.points[6 * 64 * 6 + j / 3 * 6 + j % 3] - ((i % 7 - 3) * 0.1 + 1)) < 1e-6);
    }
    ck_assert(s.points[6 * 64 * 6 + 4] == 1);
    pc_set_free(&s);
    write_text("data/modelnet40_ply_hdf5_2048/test_files.txt", "ply_data_test0.h5\n");
    expect_error(pc_h5_modelnet_load(&s, dir, "test", &o, &e), &e, "ply_data_test0.h5",
                 "no such file");
    // ScanObjectNN
    sub("h5_files");
    sub("h5_files/main_split");
    snprintf(path, sizeof path, "%s/h5_files/main_split/training_objectdataset_augmentedrot_scale75.h5",
             tmp);
    h5_write(path, 4, 32, H5T_STD_I64LE, 0, 0, 0);
    snprintf(dir, sizeof dir, "%s/h5_files", tmp);
    o = (pc_prep){.num_points = 16, .sampling = PC_SAMPLE_FPS, .normalize = 1};
    ck_assert_int_eq(pc_h5_scanobjectnn_load(&s, dir, "pb_t50_rs", "train", &o, &e), SSM_OK);
    ck_assert_int_eq(s.n, 4);
    ck_assert_int_eq(s.num_classes, 15);
    ck_assert_str_eq(s.class_names[14], "toilet");
    ck_assert_int_eq(s.labels[2], 2);
    pc_set_free(&s);
    snprintf(dir, sizeof dir, "%s/h5_files/main_split", tmp); // the variant folder itself
    ck_assert_int_eq(pc_h5_scanobjectnn_load(&s, dir, "pb_t50_rs", "train", &o, &e), SSM_OK);
    pc_set_free(&s);
    expect_error(pc_h5_scanobjectnn_load(&s, dir, "obj_bg", "test", &o, &e), &e,
                 "test_objectdataset.h5", "no such file");
    expect_error(pc_h5_scanobjectnn_load(&s, dir, "hardest", "test", &o, &e), &e, "hardest",
                 "pb_t50_rs");
    h5_write(path, 4, 32, H5T_STD_I64LE, 0, 0, 1);
    expect_error(pc_h5_scanobjectnn_load(&s, dir, "pb_t50_rs", "train", &o, &e), &e,
                 "row 3: label 40", NULL);
    write_text("h5_files/main_split/training_objectdataset.h5", "not hdf5");
    expect_error(pc_h5_scanobjectnn_load(&s, dir, "obj_bg", "train", &o, &e), &e,
                 "training_objectdataset.h5", "not an HDF5 file");
}
END_TEST

static const char *const CATS[16][2] = {
    {"Airplane", "02691156"}, {"Bag", "02773838"},   {"Cap", "02954340"},   {"Car", "02958343"},
    {"Chair", "03001627"},    {"Earphone", "03261776"}, {"Guitar", "03467517"}, {"Knife", "03624134"},
    {"Lamp", "03636649"},     {"Laptop", "03642806"}, {"Motorbike", "03790512"}, {"Mug", "03797390"},
    {"Pistol", "03948459"},   {"Rocket", "04099429"}, {"Skateboard", "04225987"}, {"Table", "04379243"}};

START_TEST(shapenet_part) {
    ssm_error e = {0};
    char buf[2000] = "";
    for (int k = 0; k < 16; k++) {
        strcat(buf, CATS[k][0]);
        strcat(buf, "\t");
        strcat(buf, CATS[k][1]);
        strcat(buf, "\n");
    }
    write_text("synsetoffset2category.txt", buf);
    sub("train_test_split");
    write_text("train_test_split/shuffled_train_file_list.json",
               "[\"shape_data/03001627/c1\", \"shape_data/02691156/a1\"]");
    write_text("train_test_split/shuffled_val_file_list.json", " [ \"shape_data/03001627/c2\" ]\n");
    write_text("train_test_split/shuffled_test_file_list.json", "[\"shape_data/03001627/c3\"]");
    sub("03001627");
    sub("02691156");
    write_text("03001627/c1.txt", "0 0 0 0 1 0 12\n1 0 0 0 1 0 13\n0 1 0 0 1 0 15\n");
    write_text("03001627/c2.txt", "0 0 0 0 1 0 14\n1 1 1 0 1 0 14\n");
    write_text("02691156/a1.txt", "0 0 0 0 0 1 0\n2 0 0 0 0 1 3\n");
    write_text("03001627/c3.txt", "0 0 0 0 1 0 12\n1 0 0 0 1 0 2\n");
    pc_prep o = {.num_points = 4, .sampling = PC_SAMPLE_FIRST};
    pc_set s;
    ck_assert_int_eq(pc_shapenet_load(&s, tmp, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.labels[0], 4); // Chair
    ck_assert_int_eq(s.labels[1], 0);
    ck_assert_ptr_nonnull(s.parts);
    int32_t want[4] = {12, 13, 15, 12}; // 3 points repeated to 4
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(s.parts[i], want[i]);
    ck_assert(s.points[3 * 3] == 0 && s.points[1 * 3] == 1);
    pc_set_free(&s);
    ck_assert_int_eq(pc_shapenet_load(&s, tmp, "trainval", &o, &e), SSM_OK);
    ck_assert_int_eq(s.n, 3);
    ck_assert_str_eq(s.names[2], "c2");
    pc_set_free(&s);
    expect_error(pc_shapenet_load(&s, tmp, "test", &o, &e), &e, "03001627/c3.txt:2:", "part 2");
    write_text("train_test_split/shuffled_test_file_list.json", "[\"shape_data/03001627/c3\",]");
    expect_error(pc_shapenet_load(&s, tmp, "test", &o, &e), &e, "shuffled_test_file_list.json:1:",
                 "string");
    expect_error(pc_shapenet_load(&s, tmp, "all", &o, &e), &e, "all", "trainval");
}
END_TEST

START_TEST(sampling_and_augment) {
    ssm_error e = {0};
    real pts[5 * 3] = {0, 0, 0, 10, 0, 0, 1, 0, 0, 0, 10, 0, 5, 5, 0};
    pc_cloud in = {.n = 5, .C = 3, .p = pts}, out;
    ck_assert_int_eq(pc_sample(&out, &in, 3, PC_SAMPLE_FPS, 1, &e), SSM_OK);
    ck_assert(out.p[3] == 10 && out.p[7] == 10); // 0, then (10,0,0), then (0,10,0)
    pc_cloud_free(&out);
    ck_assert_int_eq(pc_sample(&out, &in, 7, PC_SAMPLE_FIRST, 1, &e), SSM_OK); // repeats
    ck_assert(out.p[5 * 3] == 0 && out.p[6 * 3] == 10);
    pc_cloud_free(&out);
    pc_cloud o2;
    ck_assert_int_eq(pc_sample(&out, &in, 4, PC_SAMPLE_RANDOM, 9, &e), SSM_OK);
    ck_assert_int_eq(pc_sample(&o2, &in, 4, PC_SAMPLE_RANDOM, 9, &e), SSM_OK);
    ck_assert(!memcmp(out.p, o2.p, 12 * sizeof(real)));
    pc_cloud_free(&out);
    pc_cloud_free(&o2);
    // normalisation: centroid 0, farthest point at 1
    real q[4 * 6] = {1, 1, 1, 0, 1, 0, 3, 1, 1, 0, 1, 0, 1, 3, 1, 0, 1, 0, 1, 1, 3, 0, 1, 0};
    pc_normalize(q, 4, 6);
    double c[3] = {0}, mx = 0;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            c[k] += q[i * 6 + k];
    for (int i = 0; i < 4; i++)
        mx = fmax(mx, sqrt(q[i * 6] * q[i * 6] + q[i * 6 + 1] * q[i * 6 + 1] + q[i * 6 + 2] * q[i * 6 + 2]));
    ck_assert(fabs(c[0]) < 1e-6 && fabs(c[1]) < 1e-6 && fabs(mx - 1) < 1e-6 && q[4] == 1);
    // rotation about y keeps y and |xz|, and turns the normals too
    pc_augment rot = {.rotate_up = 1};
    real r[2 * 6] = {1, 2, 0, 1, 0, 0, 0, -1, 3, 0, 0, 1};
    pc_augment_apply(r, NULL, 2, 6, &rot, 123);
    ck_assert(r[1] == 2 && fabs(hypot(r[0], r[2]) - 1) < 1e-6 && fabs(hypot(r[6], r[8]) - 3) < 1e-6);
    ck_assert(fabs(r[3] - r[0]) < 1e-6 && fabs(r[5] - r[2]) < 1e-6);
    // scale U(2/3, 3/2) and shift U(-0.2, 0.2) per axis; normals renormalised
    pc_augment st = {.scale_translate = 1};
    int seen_low = 0, seen_high = 0;
    for (uint64_t key = 0; key < 200; key++) {
        real s[2 * 6] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 0.6, 0.8, 0};
        pc_augment_apply(s, NULL, 2, 6, &st, key);
        for (int k = 0; k < 3; k++) {
            double scale = s[6 + k] - s[k];
            ck_assert(fabs(s[k]) <= 0.2 + 1e-6 && scale >= 2.0 / 3 - 1e-6 && scale <= 1.5 + 1e-6);
            seen_low |= scale < 0.75;
            seen_high |= scale > 1.4;
        }
        ck_assert(fabs(hypot(hypot(s[9], s[10]), s[11]) - 1) < 1e-5 && fabs(s[5] - 1) < 1e-6);
    }
    ck_assert(seen_low && seen_high);
    // jitter clipped at 5 sigma; dropout replaces points by the first one
    pc_augment jd = {.jitter = 0.01, .dropout = 0.875};
    real big[1000 * 3];
    int32_t lab[1000];
    for (int i = 0; i < 1000; i++) {
        big[i * 3] = (real)i, big[i * 3 + 1] = 0, big[i * 3 + 2] = 0;
        lab[i] = i;
    }
    real copy[1000 * 3];
    memcpy(copy, big, sizeof big);
    pc_augment_apply(big, lab, 1000, 3, &jd, 5);
    int dropped = 0;
    for (int i = 0; i < 1000; i++) {
        dropped += lab[i] == 0 && i > 0;
        double ref = lab[i] == 0 ? 0 : i;
        ck_assert(fabs(big[i * 3] - ref) <= 0.1 + 1e-6 && fabs(big[i * 3 + 1]) <= 0.05 + 1e-6);
    }
    real again[1000 * 3];
    int32_t lab2[1000];
    memcpy(again, copy, sizeof copy);
    for (int i = 0; i < 1000; i++)
        lab2[i] = i;
    pc_augment_apply(again, lab2, 1000, 3, &jd, 5);
    ck_assert(!memcmp(again, big, sizeof big)); // a pure function of the key
    ck_assert(dropped > 0 && dropped < 875);
}
END_TEST

START_TEST(shapes_generator) {
    ssm_error e = {0};
    pc_prep o = {.num_points = 64, .sampling = PC_SAMPLE_FPS, .normalize = 1};
    pc_set a, b, t;
    ck_assert_int_eq(pc_shapes_load(&a, 3, 128, 7, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(pc_shapes_load(&b, 3, 128, 7, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(pc_shapes_load(&t, 3, 128, 7, "test", &o, &e), SSM_OK);
    ck_assert_int_eq(a.n, 30);
    ck_assert_int_eq(a.labels[29], 9);
    ck_assert_str_eq(a.names[4], "box_0002");
    ck_assert(!memcmp(a.points, b.points, (size_t)(a.n * a.P * a.C) * sizeof(real)));
    ck_assert(memcmp(a.points, t.points, (size_t)(a.P * a.C) * sizeof(real)));
    for (int64_t i = 0; i < a.n; i++) { // normalised: farthest point at 1
        double mx = 0;
        for (int64_t j = 0; j < a.P; j++) {
            const real *p = a.points + (i * a.P + j) * 3;
            mx = fmax(mx, sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]));
        }
        ck_assert(fabs(mx - 1) < 1e-5);
    }
    pc_set_free(&a);
    pc_set_free(&b);
    pc_set_free(&t);
}
END_TEST

static void shapes_config(ssm_data_config *dc, const char *path) {
    ssm_config c;
    ssm_config_defaults(&c);
    *dc = c.data;
    dc->name = SSM_DATA_SHAPES;
    dc->num_points = 64;
    dc->shapes_per_class = 4;
    dc->val_fraction = 0.25;
    dc->batch_size = 8;
    dc->num_workers = 0;
    dc->augment.scale_translate = 1;
    snprintf(dc->path, sizeof dc->path, "%s", path);
}

START_TEST(recipe) {
    ssm_error e = {0};
    ssm_data_config dc;
    shapes_config(&dc, "");
    pc_data mem, disk;
    ck_assert_int_eq(pc_data_open(&mem, &dc, 5, 1, &e), SSM_OK);
    ck_assert_int_eq(mem.n_train, 30);
    ck_assert_int_eq(mem.n_val, 10); // one per class
    ck_assert_int_eq(mem.n_test, 10);
    ck_assert_int_eq(mem.P, 64);
    ck_assert_int_eq(mem.C, 3);
    const ssm_batch *b;
    ck_assert_int_eq(ssm_batcher_next(&mem.val, &b, &e), SSM_OK);
    ck_assert_int_eq(b->B, 8);
    ck_assert_int_eq(b->ndim, 3);
    ck_assert(b->shape[1] == 64 && b->shape[2] == 3);
    int64_t id = b->index[0]; // unaugmented: the stored cloud
    ck_assert(!memcmp(b->x, mem.train_set.points + id * 64 * 3, 64 * 3 * sizeof(real)));
    ck_assert_int_eq(b->y[0], mem.train_set.labels[id]);
    ck_assert_int_eq(ssm_batcher_next(&mem.train, &b, &e), SSM_OK);
    id = b->index[0]; // augmented from the key: differs
    ck_assert(memcmp(b->x, mem.train_set.points + id * 64 * 3, 64 * 3 * sizeof(real)));
    char dir[400];
    snprintf(dir, sizeof dir, "%s/shapes", tmp);
    shapes_config(&dc, dir);
    ck_assert_int_eq(pc_data_open(&disk, &dc, 5, 1, &e), SSM_OK); // written, then read
    char names[500];
    snprintf(names, sizeof names, "%s/shapes_shape_names.txt", dir);
    struct stat st;
    ck_assert(stat(names, &st) == 0);
    ck_assert_int_eq(disk.test_set.n, mem.test_set.n);
    double md = 0; // the same clouds up to the text's 6 decimals and the FPS of 128 points
    for (int64_t i = 0; i < mem.test_set.n * 64 * 3; i++)
        md = fmax(md, fabs(disk.test_set.points[i] - mem.test_set.points[i]));
    ck_assert_msg(md < 1e-3, "max difference %g", md);
    ck_assert_int_eq(disk.train_set.n, mem.train_set.n);
    md = 0; // the training clouds too: no file of the test split overwrote one of theirs
    for (int64_t i = 0; i < mem.train_set.n * 64 * 3; i++)
        md = fmax(md, fabs(disk.train_set.points[i] - mem.train_set.points[i]));
    ck_assert_msg(md < 1e-3, "training clouds: max difference %g", md);
    pc_data_close(&disk);
    ck_assert_int_eq(pc_data_open(&disk, &dc, 5, 0, &e), SSM_OK); // read again, no test split
    ck_assert_int_eq(disk.n_test, 0);
    pc_data_close(&disk);
    pc_data_close(&mem);
    snprintf(dc.subset, sizeof dc.subset, "modelnet10");
    expect_error(pc_data_open(&mem, &dc, 5, 1, &e), &e, "data.subset", NULL);
    dc.name = SSM_DATA_MODELNET;
    snprintf(dc.subset, sizeof dc.subset, "modelnet12");
    expect_error(pc_data_open(&mem, &dc, 5, 1, &e), &e, "modelnet12", "modelnet10");
    dc.path[0] = 0;
    expect_error(pc_data_open(&mem, &dc, 5, 1, &e), &e, "data.path", NULL);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_datasets");
    TCase *tc = tcase_create("datasets");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, modelnet_round_trip);
    tcase_add_test(tc, off_layout);
    tcase_add_test(tc, hdf5_layouts);
    tcase_add_test(tc, shapenet_part);
    tcase_add_test(tc, sampling_and_augment);
    tcase_add_test(tc, shapes_generator);
    tcase_add_test(tc, recipe);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
