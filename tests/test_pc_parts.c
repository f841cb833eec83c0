// Check suite: part-segmentation data, on fixtures written here:
//  - the shapenetpart recipe on a folder in ShapeNetPart's real layout (16 categories,
//    split JSONs, `<synset>/<id>.txt` rows x y z nx ny nz part): training on train + val,
//    segment batches x [B, P, C] with y = the category and y_tokens = each point's part as
//    in the file, the part table of the 16 categories (Chair 12..15, ...), 50 parts
//  - the same layout with other categories (the generated set's): each category's parts
//    derived from its shapes' labels; overlapping part ranges refused naming both
//    categories; a category without shapes refused
//  - the generated parts set: a pure function of (seed, split, index), every point's part
//    within its category's range, every part of every category present, normalised
//  - the parts recipe in memory and written to a folder in ShapeNetPart's layout (then read
//    by the ShapeNetPart reader) give the same clouds and parts; the training batches'
//    parts move with the points a point dropout replaces
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "datasets/pc_data.h"
#include "datasets/pc_parts.h"
#include "datasets/pc_shapenet.h"

static char tmp[256];

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ssm_pc_parts_XXXXXX");
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
    ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void expect_error(ssm_code rc, const ssm_error *e, const char *a, const char *b) {
    ck_assert_int_ne(rc, SSM_OK);
    ck_assert_msg(strstr(e->msg, a) && (!b || strstr(e->msg, b)), "message '%s' lacks '%s' / '%s'",
                  e->msg, a, b ? b : "");
}

static const char *CATS[16][2] = {
    {"Airplane", "02691156"}, {"Bag", "02773838"},   {"Cap", "02954340"},   {"Car", "02958343"},
    {"Chair", "03001627"},    {"Earphone", "03261776"}, {"Guitar", "03467517"}, {"Knife", "03624134"},
    {"Lamp", "03636649"},     {"Laptop", "03642806"}, {"Motorbike", "03790512"}, {"Mug", "03797390"},
    {"Pistol", "03948459"},   {"Rocket", "04099429"}, {"Skateboard", "04225987"}, {"Table", "04379243"}};

static void data_config(ssm_data_config *dc, ssm_data_name name, const char *path, int64_t P) {
    ssm_config c;
    ssm_config_defaults(&c);
    *dc = c.data;
    dc->name = name;
    dc->num_points = P;
    dc->num_workers = 0;
    dc->batch_size = 2;
    dc->val_fraction = 0;
    snprintf(dc->path, sizeof dc->path, "%s", path);
}

START_TEST(shapenetpart_recipe) {
    char buf[2000] = "";
    for (int k = 0; k < 16; k++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s\t%s\n", CATS[k][0], CATS[k][1]);
    write_text("synsetoffset2category.txt", buf);
    sub("train_test_split");
    write_text("train_test_split/shuffled_train_file_list.json",
               "[\"shape_data/03001627/c1\", \"shape_data/02691156/a1\"]");
    write_text("train_test_split/shuffled_val_file_list.json", "[\"shape_data/03001627/c2\"]");
    write_text("train_test_split/shuffled_test_file_list.json",
               "[\"shape_data/02691156/a2\", \"shape_data/03001627/c1\"]");
    sub("03001627");
    sub("02691156");
    write_text("03001627/c1.txt", "0 0 0 0 1 0 12\n1 0 0 0 1 0 13\n0 1 0 0 1 0 15\n0 0 1 0 1 0 14\n");
    write_text("03001627/c2.txt", "0 0 0 0 1 0 14\n1 1 1 0 1 0 14\n2 0 0 0 1 0 12\n0 2 0 0 1 0 13\n");
    write_text("02691156/a1.txt", "0 0 0 0 0 1 0\n2 0 0 0 0 1 3\n0 0 2 0 0 1 1\n1 1 0 0 0 1 2\n");
    write_text("02691156/a2.txt", "0 0 0 0 0 1 3\n2 0 0 0 0 1 3\n0 0 2 0 0 1 1\n1 1 0 0 0 1 0\n");
    ssm_error e = {0};
    ssm_data_config dc;
    data_config(&dc, SSM_DATA_SHAPENETPART, tmp, 4);
    dc.point_sampling = SSM_POINTS_FIRST;
    dc.normals = 1;
    pc_data d;
    ck_assert_msg(pc_data_open(&d, &dc, 3, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_train, 3); // train + val
    ck_assert_int_eq(d.n_test, 2);
    ck_assert_int_eq(d.num_classes, 16);
    ck_assert_int_eq(d.num_parts, 50);
    ck_assert_int_eq(d.part_range[2 * 4], 12); // Chair: 12..15
    ck_assert_int_eq(d.part_range[2 * 4 + 1], 4);
    ck_assert_int_eq(d.part_range[2 * 15], 47); // Table: 47..49
    const ssm_batch *b;
    ck_assert_int_eq(ssm_batcher_next(&d.test, &b, &e), SSM_OK);
    ck_assert_int_eq(b->B, 2);
    ck_assert(b->ndim == 3 && b->shape[1] == 4 && b->shape[2] == 6);
    ck_assert_ptr_nonnull(b->y_tokens);
    ck_assert_int_eq(b->y[0], 0); // a2: Airplane
    ck_assert_int_eq(b->y[1], 4); // c1: Chair
    int32_t want[8] = {3, 3, 1, 0, 12, 13, 15, 14}; // the files' parts, in order (normalised
                                                    // points, sampling "first")
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(b->y_tokens[i], want[i]);
    pc_data_close(&d);
    // a part of another category: refused with the file and line
    write_text("02691156/a2.txt", "0 0 0 0 0 1 3\n2 0 0 0 0 1 13\n");
    expect_error(pc_data_open(&d, &dc, 3, 1, &e), &e, "02691156/a2.txt:2:", "part 13");
    dc.path[0] = 0;
    expect_error(pc_data_open(&d, &dc, 3, 1, &e), &e, "data.path", NULL);
}
END_TEST

// The layout with three categories of our own: parts derived from the labels.
START_TEST(other_categories) {
    write_text("synsetoffset2category.txt", "cup\t00000001\nbox\t00000002\nrod\t00000003\n");
    sub("train_test_split");
    write_text("train_test_split/shuffled_train_file_list.json",
               "[\"shape_data/00000001/u\", \"shape_data/00000002/b\", \"shape_data/00000003/r\"]");
    sub("00000001");
    sub("00000002");
    sub("00000003");
    write_text("00000001/u.txt", "0 0 0 0 1 0 0\n1 0 0 0 1 0 1\n");
    write_text("00000002/b.txt", "0 0 0 0 1 0 2\n1 0 0 0 1 0 4\n");
    write_text("00000003/r.txt", "0 0 0 0 1 0 5\n1 0 0 0 1 0 5\n");
    pc_prep o = {.num_points = 2, .sampling = PC_SAMPLE_FIRST};
    pc_set s;
    ssm_error e = {0};
    ck_assert_msg(pc_shapenet_load(&s, tmp, "train", &o, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.num_classes, 3);
    ck_assert_int_eq(s.num_parts, 6);
    int32_t want[6] = {0, 2, 2, 3, 5, 1};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(s.part_range[i], want[i]);
    pc_set_free(&s);
    write_text("00000003/r.txt", "0 0 0 0 1 0 5\n1 0 0 0 1 0 3\n");
    expect_error(pc_shapenet_load(&s, tmp, "train", &o, &e), &e, "box (2..4)", "rod (3..5)");
    write_text("train_test_split/shuffled_train_file_list.json",
               "[\"shape_data/00000001/u\", \"shape_data/00000002/b\"]");
    expect_error(pc_shapenet_load(&s, tmp, "train", &o, &e), &e, "no shape of category rod", NULL);
}
END_TEST

START_TEST(generator) {
    ssm_error e = {0};
    pc_prep o = {.num_points = 256, .sampling = PC_SAMPLE_FPS, .normalize = 1};
    pc_set a, b, t;
    ck_assert_int_eq(pc_parts_load(&a, 6, 512, 7, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(pc_parts_load(&b, 6, 512, 7, "train", &o, &e), SSM_OK);
    ck_assert_int_eq(pc_parts_load(&t, 6, 512, 7, "test", &o, &e), SSM_OK);
    ck_assert_int_eq(a.n, 24);
    ck_assert_int_eq(a.num_classes, 4);
    ck_assert_int_eq(a.num_parts, PC_PARTS_NUM_PARTS);
    ck_assert_str_eq(a.names[7], "lamp_0002");
    ck_assert(!memcmp(a.points, b.points, (size_t)(a.n * a.P * a.C) * sizeof(real)));
    ck_assert(!memcmp(a.parts, b.parts, (size_t)(a.n * a.P) * sizeof(int32_t)));
    ck_assert(memcmp(a.points, t.points, (size_t)(a.P * a.C) * sizeof(real)));
    int seen[PC_PARTS_NUM_PARTS] = {0};
    for (int64_t i = 0; i < a.n; i++) {
        int32_t lo = a.part_range[2 * a.labels[i]], n = a.part_range[2 * a.labels[i] + 1];
        double mx = 0;
        for (int64_t j = 0; j < a.P; j++) {
            int32_t y = a.parts[i * a.P + j];
            ck_assert_msg(y >= lo && y < lo + n, "shape %s point %lld: part %d", a.names[i],
                          (long long)j, y);
            seen[y]++;
            const real *p = a.points + (i * a.P + j) * 3;
            mx = fmax(mx, sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]));
        }
        ck_assert(fabs(mx - 1) < 1e-5);
    }
    for (int k = 0; k < PC_PARTS_NUM_PARTS; k++) // every part shows up (arms: some chairs)
        ck_assert_msg(seen[k] > 0, "part %d never sampled", k);
    pc_set_free(&a);
    pc_set_free(&b);
    pc_set_free(&t);
}
END_TEST

START_TEST(parts_recipe) {
    ssm_error e = {0};
    ssm_data_config dc;
    data_config(&dc, SSM_DATA_PARTS, "", 64);
    dc.shapes_per_class = 4;
    dc.batch_size = 4;
    dc.augment.point_dropout = 0.5;
    pc_data mem, disk;
    ck_assert_msg(pc_data_open(&mem, &dc, 5, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(mem.n_train, 16);
    ck_assert_int_eq(mem.n_test, 4);
    ck_assert_int_eq(mem.num_parts, PC_PARTS_NUM_PARTS);
    const ssm_batch *b;
    ck_assert_int_eq(ssm_batcher_next(&mem.train, &b, &e), SSM_OK);
    int moved = 0;
    for (int64_t s = 0; s < b->B; s++) { // a dropped point is the first point, part included
        const real *x = b->x + s * 64 * 3;
        const int32_t *y = b->y_tokens + s * 64;
        ck_assert_int_eq(b->y[s], mem.train_set.labels[b->index[s]]);
        for (int64_t j = 1; j < 64; j++)
            if (!memcmp(x + j * 3, x, 3 * sizeof(real))) {
                ck_assert_int_eq(y[j], y[0]);
                moved++;
            } else {
                ck_assert_int_eq(y[j], mem.train_set.parts[b->index[s] * 64 + j]);
            }
    }
    ck_assert(moved > 0);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/parts", tmp);
    snprintf(dc.path, sizeof dc.path, "%s", dir);
    ck_assert_msg(pc_data_open(&disk, &dc, 5, 1, &e) == SSM_OK, "%s", e.msg); // written, read
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/synsetoffset2category.txt", dir);
    ck_assert(stat(path, &st) == 0);
    snprintf(path, sizeof path, "%s/train_test_split/shuffled_val_file_list.json", dir);
    ck_assert(stat(path, &st) == 0);
    ck_assert_int_eq(disk.n_test, mem.n_test);
    ck_assert_int_eq(disk.num_parts, mem.num_parts);
    for (int k = 0; k < 2 * PC_PARTS_NUM_CATEGORIES; k++)
        ck_assert_int_eq(disk.part_range[k], mem.part_range[k]);
    double md = 0; // the same clouds up to the text's 6 decimals and the FPS of 128 points
    for (int64_t i = 0; i < mem.test_set.n * 64 * 3; i++)
        md = fmax(md, fabs(disk.test_set.points[i] - mem.test_set.points[i]));
    ck_assert_msg(md < 1e-3, "max difference %g", md);
    ck_assert_int_eq(disk.train_set.n, mem.train_set.n);
    md = 0; // the training clouds too: no file of the test split overwrote one of theirs
    for (int64_t i = 0; i < mem.train_set.n * 64 * 3; i++)
        md = fmax(md, fabs(disk.train_set.points[i] - mem.train_set.points[i]));
    ck_assert_msg(md < 1e-3, "training clouds: max difference %g", md);
    ck_assert(!memcmp(disk.test_set.parts, mem.test_set.parts,
                      (size_t)(mem.test_set.n * 64) * sizeof(int32_t)));
    pc_data_close(&disk);
    pc_data_close(&mem);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_parts");
    TCase *tc = tcase_create("parts");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, shapenetpart_recipe);
    tcase_add_test(tc, other_categories);
    tcase_add_test(tc, generator);
    tcase_add_test(tc, parts_recipe);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
