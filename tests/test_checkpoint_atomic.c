// Check suite: checkpoint saves are atomic — a failed save leaves the previous
// file byte for byte and no temp file behind.
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "tests/checkpoint_fixture.h"
#include "tests/util/suite.h"

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

START_TEST(failed_save_keeps_the_previous_file) {
    ssm_params old_p, new_p;
    make_params(&old_p, 0, 0, 1);
    make_params(&new_p, 1, 0, 2);
    ssm_error e = {0};
    char sub[512], path[600];
    path_in(sub, sizeof sub, "run");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    snprintf(path, sizeof path, "%s/best.safetensors", sub);
    ck_assert_int_eq(ssm_checkpoint_save(path, &old_p, 0, NULL, &e), SSM_OK);
    size_t old_len;
    unsigned char *old_bytes = slurp(path, &old_len);

    // 1. A write that fails half-way (file size limit: works as root too).
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = 200, .rlim_max = RLIM_INFINITY}, saved;
    getrlimit(RLIMIT_FSIZE, &saved);
    rl.rlim_max = saved.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ssm_code rc = ssm_checkpoint_save(path, &new_p, SSM_CKPT_OPTIMIZER, NULL, &e);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    ck_assert_int_eq(rc, SSM_EIO);
    ck_assert_msg(strstr(e.msg, path), "%s", e.msg);
    size_t now_len;
    unsigned char *now = slurp(path, &now_len);
    ck_assert(now_len == old_len && !memcmp(now, old_bytes, old_len));
    free(now);
    ck_assert_int_eq(count_entries(sub), 1); // the temp file was removed

    // 2. A directory that cannot be written (only meaningful when not root).
    if (geteuid() != 0) {
        ck_assert_int_eq(chmod(sub, 0555), 0);
        ck_assert_int_eq(ssm_checkpoint_save(path, &new_p, 0, NULL, &e), SSM_EIO);
        ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "temp file"), "%s", e.msg);
        ck_assert_int_eq(chmod(sub, 0755), 0);
        now = slurp(path, &now_len);
        ck_assert(now_len == old_len && !memcmp(now, old_bytes, old_len));
        free(now);
    }
    // 3. A directory that does not exist.
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing/best.safetensors", tmpdir);
    ck_assert_int_eq(ssm_checkpoint_save(nodir, &new_p, 0, NULL, &e), SSM_EIO);
    ck_assert(strstr(e.msg, nodir));

    // And a save that succeeds replaces the file whole.
    ssm_params check;
    make_params(&check, 1, 0, 0);
    ck_assert_int_eq(ssm_checkpoint_save(path, &new_p, 0, NULL, &e), SSM_OK);
    ck_assert_int_eq(ssm_checkpoint_load(path, &check, 0, NULL, &e), SSM_OK);
    ck_assert(tensors_equal(&new_p, new_p.data, &check, check.data));
    ck_assert_int_eq(count_entries(sub), 1);
    free(old_bytes);
    ssm_params_free(&old_p);
    ssm_params_free(&new_p);
    ssm_params_free(&check);
}
END_TEST


int main(void) {
    Suite *s = suite_create("checkpoint_atomic");
    TCase *tc = tcase_create("atomic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, failed_save_keeps_the_previous_file);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
