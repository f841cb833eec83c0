// Check suite: `ssmkit predict` on point clouds ($SSMKIT_BIN, default build/ssmkit). A tiny
// point model (configs/points/shapes.yaml shrunk, the generated shapes written in
// ModelNet's layout) is trained, then:
//   - predict's probabilities on the test split's .txt files equal the evaluation's (the
//     test batcher, model_predict, softmax) to 1e-6: the same FPS reduction to
//     data_points and the same unit-sphere normalisation, from the checkpoint's metadata;
//   - a mesh (.off, with ModelNet's header quirk), a PLY and an .xyz file predict (one row
//     each, probabilities summing to 1), and a mesh's surface sample is the same on every run;
//   - a malformed .xyz line and an unknown extension are refused naming the file.
#include <check.h>

#include "datasets/pc_data.h"
#include "datasets/pc_modelnet.h"
#include "tasks/task_run.h"
#include "tests/predict_fixture.h"

static char sets_text[1024], data_dir[600], ckpt[700];
static const char *SETS[] = {NULL /* data.path */, "data.shapes_per_class=4",
                             "data.num_points=64", "data.batch_size=16",
                             "data.val_fraction=0.1", "data.num_workers=0",
                             "adapter.group_size=16", "adapter.num_groups=8", "backbone.d_model=16",
                             "backbone.n_layers=1", "optim.warmup_steps=2"};
#define N_SETS ((int)(sizeof SETS / sizeof *SETS))

static void setup(void) {
    pf_setup();
    static char path[700];
    snprintf(data_dir, sizeof data_dir, "%s/shapes", fx_dir);
    snprintf(path, sizeof path, "data.path=%s", data_dir);
    SETS[0] = path;
    size_t used = 0;
    for (int i = 0; i < N_SETS; i++)
        used += (size_t)snprintf(sets_text + used, sizeof sets_text - used, " --set %s", SETS[i]);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml%s --set train.epochs=1 "
             "--set run.dir=%s --set run.name=p", pf_bin, sets_text, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, sizeof ckpt, "%s/p/last.safetensors", fx_dir);
}

static void teardown(void) { pf_teardown(); }

START_TEST(clouds_match_eval) {
    ssm_config cfg;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve_checked(&cfg, "configs/points/shapes.yaml", SETS, N_SETS,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    pc_data d;
    ck_assert_msg(pc_data_open(&d, &cfg.data, (uint64_t)cfg.run.seed, 1, &e) == SSM_OK, "%s",
                  e.msg);
    task_data_info info = {.input = {2, {d.P, d.C}}, .num_classes = d.num_classes,
                           .class_names = (const char *const *)d.train_set.class_names};
    ssm_task *t = NULL;
    ck_assert_msg(task_create(&t, &cfg, &info, cfg.data.batch_size, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_load_checkpoint(t, ckpt, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    const ssm_batch *b = NULL;
    ck_assert_msg(ssm_batcher_next(&d.test, &b, &e) == SSM_OK && b, "%s", e.msg);
    const real *out;
    ck_assert_msg(model_predict(&t->model, b->x, b->B, &out, &e) == SSM_OK, "%s", e.msg);
    char cmd[16384], files[64][1024];
    size_t used = (size_t)snprintf(cmd, sizeof cmd, "%s predict configs/points/shapes.yaml%s "
                                   "--ckpt %s --format csv", pf_bin, sets_text, ckpt);
    ck_assert_int_le(b->B, 64);
    for (int64_t i = 0; i < b->B; i++) {
        const char *id = d.test_set.names[b->index[i]];
        char cls[128];
        ck_assert(pc_modelnet_class_of(cls, sizeof cls, id));
        snprintf(files[i], sizeof files[i], "%s/%s/%s.txt", data_dir, cls, id);
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, " %s", files[i]);
    }
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, b->B);
    int64_t V = d.num_classes;
    for (int64_t i = 0; i < b->B; i++) {
        double p[PF_MAX_V];
        pf_softmax(p, out + i * t->model.K, V);
        const pf_row *r = pf_find(&tb, files[i], NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->n, V);
        ck_assert_msg(pf_max_diff(r->v, p, (int)V) < 1e-6, "%s: %g", files[i],
                      pf_max_diff(r->v, p, (int)V));
    }
    pf_table_free(&tb);
    task_free(t);
    pc_data_close(&d);
}
END_TEST

START_TEST(meshes_and_point_files) {
    char off[600], ply[600], xyz[600], cmd[4096];
    // a cube, counts on the OFF line as ModelNet writes them
    fx_write(off, sizeof off, "cube.off",
             "OFF8 6 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n1 0 1\n1 1 1\n0 1 1\n"
             "4 0 3 2 1\n4 4 5 6 7\n4 0 1 5 4\n4 2 3 7 6\n4 1 2 6 5\n4 0 4 7 3\n", SIZE_MAX);
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof body, "ply\nformat ascii 1.0\nelement vertex 100\n"
                                "property float x\nproperty float y\nproperty float z\n"
                                "end_header\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%g %g %g\n", cos(i * 0.3),
                              sin(i * 0.3), i * 0.01);
    fx_write(ply, sizeof ply, "spiral.ply", body, n);
    n = 0;
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, "%g %g %g\n", (double)(i % 5),
                              (double)(i / 5 % 5), i * 0.1);
    fx_write(xyz, sizeof xyz, "grid.xyz", body, n);
    snprintf(cmd, sizeof cmd, "%s predict configs/points/shapes.yaml%s --ckpt %s --format csv "
             "%s %s %s", pf_bin, sets_text, ckpt, off, ply, xyz);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb, again;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 3);
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int v = 0; v < tb.rows[i].n; v++)
            s += tb.rows[i].v[v];
        ck_assert_double_eq_tol(s, 1, 1e-6);
    }
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_read_csv(&again, pf_out);
    for (int i = 0; i < 3; i++)
        ck_assert(pf_max_diff(tb.rows[i].v, again.rows[i].v, tb.rows[i].n) == 0);
    pf_table_free(&tb);
    pf_table_free(&again);
}
END_TEST

START_TEST(bad_point_files) {
    char bad[600], cmd[4096];
    fx_write(bad, sizeof bad, "broken.xyz", "0 0 0\n1 1 1\n2 two 2\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/points/shapes.yaml%s --ckpt %s %s", pf_bin,
             sets_text, ckpt, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, bad) && strstr(pf_err, "broken.xyz:3:"), "%s", pf_err);
    fx_write(bad, sizeof bad, "cloud.las", "binary\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/points/shapes.yaml%s --ckpt %s %s", pf_bin,
             sets_text, ckpt, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, bad) && strstr(pf_err, ".las"), "%s", pf_err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict_points");
    TCase *tc = tcase_create("points");
    tcase_add_unchecked_fixture(tc, setup, teardown); // one training for every test
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, clouds_match_eval);
    tcase_add_test(tc, meshes_and_point_files);
    tcase_add_test(tc, bad_point_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
