// Check suite: the GPU ranks' gradient all-reduce (core/cuda/nccl.h) on one GPU, and one-GPU
// data-parallel training through NCCL (docs/distributed.md).
//   - a communicator of one rank averages a device gradient buffer as the CPU does: scaled by
//     the rank's share (1, an uneven 0.37, and 0 over NaN bytes: an empty shard), summed in
//     place, bit for bit: fp32, and bf16 (run.grad_allreduce: bf16) where the result is the
//     host's round-to-nearest-even bf16 of the scaled gradient; a second reducer is refused
//     and ssm_dist_finalize destroys the communicator;
//   - `mpirun -np 1 ssmkit train` on the GPU (SSMKIT_BIN, a CUDA=1 MPI build) initialises
//     NCCL and trains: its weights equal a plain one-GPU run's within 5e-5 (one rank sums
//     nothing, so they should be identical), and the bf16 all-reduce trains too.
// Built without CUDA=1 or NCCL, under the sanitizers or in double, or run with no GPU (or no
// mpirun, for the training part): prints why it skips, and passes.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/util/cli_fixture.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "core/checkpoint.h"
#include "core/cuda/nccl.h"
#include "core/distributed.h"
#include "tests/util/cuda_compare.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
static void average_case(int bf16) {
    ssm_dist d;
    ssm_error e;
    ck_assert_int_eq(ssm_dist_init(&d, NULL, NULL, &e), SSM_OK); // alone: size 1
    ck_assert_msg(ssm_nccl_attach(&d, bf16, &e) == SSM_OK, "%s", e.msg);
    ck_assert_str_eq(d.dev->name, "nccl");
    const size_t n = 100003; // not a multiple of anything NCCL or a block likes
    uint64_t st = 17;
    real *g = hfill(n, -3, 3, &st), *want = malloc(n * sizeof *want);
    const double shares[3] = {1.0, 0.37, 0.0};
    for (int i = 0; i < 3; i++) {
        real *dg = dev(g, n, 0);
        if (shares[i] == 0)
            repoison(dg, n, 0); // an empty shard's stale gradient: ignored
        ck_assert_msg(d.dev->grad_average(d.dev_ctx, dg, n, shares[i], &e) == SSM_OK, "%s", e.msg);
        for (size_t j = 0; j < n; j++)
            want[j] = shares[i] == 1 ? g[j] : (real)shares[i] * g[j];
        if (bf16)
            round_bf16(want, n);
        char what[64];
        snprintf(what, sizeof what, "%s all-reduce, share %.2f", bf16 ? "bf16" : "fp32", shares[i]);
        // one rank sums nothing: the result is the scaled gradient exactly, in bf16 rounded to
        // nearest even as the host rounds it (an empty shard: zeros)
        real *h = host(dg, n, 0);
        size_t off = 0;
        for (size_t j = 0; j < n; j++)
            off += shares[i] == 0 ? h[j] != 0 : memcmp(&h[j], &want[j], sizeof h[j]) != 0;
        fprintf(stderr, "  %-28s %zu of %zu elements off\n", what, off, n);
        ck_assert_msg(off == 0, "%s: %zu of %zu elements differ (element 0: %g, want %g)", what,
                      off, n, (double)h[0], (double)(shares[i] == 0 ? 0 : want[0]));
        free(h);
        ssm_cuda_free(dg);
    }
    free(g);
    free(want);
    // a second reducer on the same ranks is refused, naming the first
    ck_assert_int_eq(ssm_nccl_attach(&d, bf16, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "already attached") && strstr(e.msg, "nccl"), "%s", e.msg);
    ssm_dist_finalize(&d);
    ck_assert_ptr_null(d.dev); // finalize destroyed the communicator
}

START_TEST(one_rank_average_fp32) { average_case(0); }
END_TEST
START_TEST(one_rank_average_bf16) { average_case(1); }
END_TEST

static const char *CONFIG =
    "data:\n  name: idx\n  path: %s/data\n  val_fraction: 0.1\n  batch_size: 32\n"
    "adapter:\n  name: image_patches\n  patch_size: 7\n  cls_token: none\n  orders: [row, reverse]\n"
    "backbone:\n  d_model: 32\n  n_layers: 2\n  d_state: 8\n"
    "task:\n  name: classify\n  num_classes: 10\n"
    "optim:\n  lr: 3e-3\n  warmup_steps: 5\n"
    "train:\n  epochs: 10\n"
    "run:\n  dir: %s/runs\n  device: cuda\n  seed: 2\n  tensorboard: false\n  progress: off\n";

// mpirun -np 1 on the GPU against a plain GPU run, then the bf16 all-reduce.
START_TEST(train_one_gpu_rank_through_nccl) {
    const char *bin = getenv("SSMKIT_BIN") && *getenv("SSMKIT_BIN") ? getenv("SSMKIT_BIN")
                                                                    : "build-cuda/ssmkit";
    char cmd[4096], dir[64] = "/tmp/ssmkit_nccl_XXXXXX", path[600], w[3][600];
    snprintf(cmd, sizeof cmd, "%s version | grep -q 'cuda, mpi'", bin);
    if (system("command -v mpirun > /dev/null 2>&1") != 0 || system(cmd) != 0) {
        fprintf(stderr, "train_one_gpu_rank_through_nccl: skipped (needs mpirun and %s built "
                        "with CUDA=1 and MPI)\n", bin);
        return;
    }
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/data", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(path, 800, 200, 5), 0);
    snprintf(path, sizeof path, "%s/cfg.yaml", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, CONFIG, dir, dir);
    fclose(f);
    // --bind-to none: the rank keeps the machine's cores (the data loading of the plain run)
    const char *mpi = geteuid() == 0 ? "mpirun --allow-run-as-root --bind-to none -np 1"
                                     : "mpirun --bind-to none -np 1";
    const char *runs[3][3] = {{"", "plain", ""},
                              {mpi, "nccl", ""},
                              {mpi, "bf16", "--set run.grad_allreduce=bf16"}};
    char out[3][700];
    for (int i = 0; i < 3; i++) {
        snprintf(w[i], sizeof w[i], "%s/w_%s", dir, runs[i][1]);
        ck_assert_int_eq(mkdir(w[i], 0755), 0);
        snprintf(cmd, sizeof cmd, "SSMKIT_DEBUG_RANK_WEIGHTS=%s %s %s train %s --set run.name=%s %s",
                 w[i], runs[i][0], bin, path, runs[i][1], runs[i][2]);
        char o[700], e[700];
        snprintf(o, sizeof o, "%s/%s.out", dir, runs[i][1]);
        snprintf(e, sizeof e, "%s/%s.err", dir, runs[i][1]);
        int rc = cf_run(cmd, o, e);
        char *err = cf_read_file(e, NULL);
        ck_assert_msg(rc == 0, "%s exited %d:\n%s", cmd, rc, err ? err : "");
        if (i)
            ck_assert_msg(err && strstr(err, "data parallel: 1 ranks (nccl"), "%s", err);
        free(err);
        snprintf(out[i], sizeof out[i], "%s", o);
    }
    // the plain run and the NCCL run of one rank: the same weights
    long n0, n1;
    char p0[700], p1[700];
    snprintf(p0, sizeof p0, "%s/rank0.safetensors", w[0]);
    snprintf(p1, sizeof p1, "%s/rank0.safetensors", w[1]);
    char *a = cf_read_file(p0, &n0), *b = cf_read_file(p1, &n1);
    ssm_ckpt_info info;
    ssm_error err;
    ck_assert_msg(a && b && n0 == n1 && ssm_checkpoint_inspect(p0, &info, &err) == SSM_OK, "%s",
                  p0);
    double d = 0;
    const float *fa = (const float *)(a + info.data_start), *fb = (const float *)(b + info.data_start);
    for (size_t i = 0; i < (size_t)(n0 - (long)info.data_start) / 4; i++)
        d = fmax(d, fabs((double)fa[i] - fb[i]));
    fprintf(stderr, "one GPU: plain vs mpirun -np 1 (NCCL): max |weight difference| %.3g\n", d);
    ck_assert_msg(d <= 5e-5, "weights differ by %g", d);
    ssm_ckpt_info_free(&info);
    free(a);
    free(b);
    for (int i = 0; i < 3; i++) {
        char *s = cf_read_file(out[i], NULL);
        double acc = s ? cf_json_number(s, "test_accuracy") : NAN;
        fprintf(stderr, "%s: test accuracy %.3f\n", runs[i][1], acc);
        ck_assert_msg(acc > 0.5, "%s: test accuracy %g (10 classes: chance is 0.1)", runs[i][1], acc);
        free(s);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST
#endif

int main(void) {
#if !HAVE_CUDA
    printf("test_cuda_nccl: skipped (built without CUDA=1, or a sanitizer/double build, which "
           "links no CUDA code)\n");
    return 0;
#else
    if (ssm_cuda_device_count() == 0) {
        printf("test_cuda_nccl: skipped (no CUDA device)\n");
        return 0;
    }
    if (!ssm_nccl_available()) {
        printf("test_cuda_nccl: skipped (built without NCCL: nccl.h not found)\n");
        return 0;
    }
    Suite *su = suite_create("cuda_nccl");
    TCase *tc = tcase_create("nccl");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, one_rank_average_fp32);
    tcase_add_test(tc, one_rank_average_bf16);
    tcase_add_test(tc, train_one_gpu_rank_through_nccl);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK); // one CUDA context for the whole suite
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
#endif
}
