// defines: cmd_predict (ssmkit predict CONFIG --ckpt FILE INPUT.png...)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/checkpoint.h"
#include "datasets/augment.h"
#include "datasets/png.h"

static const char *USAGE = "ssmkit predict CONFIG --ckpt FILE [--top K] [--set k=v]... INPUT.png...";

// names [k] <- the lines of a newline-separated list, in place (at most k).
static void split_lines(char *lines, const char **names, int64_t k) {
    for (int64_t i = 0; i < k; i++) {
        names[i] = lines && *lines ? lines : NULL;
        char *nl = lines ? strchr(lines, '\n') : NULL;
        if (nl)
            *nl = 0;
        lines = nl ? nl + 1 : NULL;
    }
}

// The task the config names, on images of the checkpoint's size; each input's line is
// the file name and the task's predict_line (classify: the top K classes).
static ssm_code predict(const cli_args *a, const ssm_config *cfg, ssm_error *err) {
    ssm_ckpt_info info;
    SSM_TRY(ssm_checkpoint_inspect(a->ckpt, &info, err));
    int64_t C = 0, H = 0, W = 0;
    ssm_code rc = ssm_metadata_get_int(&info.meta, "data_channels", &C, err);
    if (!rc) rc = ssm_metadata_get_int(&info.meta, "data_height", &H, err);
    if (!rc) rc = ssm_metadata_get_int(&info.meta, "data_width", &W, err);
    real mean[SSM_IMAGE_MAX_C], sd[SSM_IMAGE_MAX_C];
    for (int64_t c = 0; !rc && c < C && c < SSM_IMAGE_MAX_C; c++) {
        char key[64];
        double v;
        snprintf(key, sizeof key, "data_mean.%lld", (long long)c);
        rc = ssm_metadata_get_double(&info.meta, key, &v, err);
        mean[c] = (real)v;
        snprintf(key, sizeof key, "data_std.%lld", (long long)c);
        if (!rc) rc = ssm_metadata_get_double(&info.meta, key, &v, err);
        sd[c] = (real)v;
    }
    const char *names = ssm_metadata_get(&info.meta, CLI_META_CLASS_NAMES);
    char *names_copy = names ? strdup(names) : NULL;
    ssm_ckpt_info_free(&info);
    if (rc) {
        free(names_copy);
        return ssm_error_prefix(err, "%s: not a checkpoint of images written by `ssmkit train` "
                                "(predict reads PNG images): ", a->ckpt);
    }
    if (C < 1 || C > SSM_IMAGE_MAX_C) {
        free(names_copy);
        return ssm_fail(err, SSM_EFORMAT, "%s: data_channels %lld, expected 1..%d", a->ckpt,
                        (long long)C, SSM_IMAGE_MAX_C);
    }
    if (H < 1 || W < 1 || H > 65536 || W > 65536) { // before n * C * H * W can overflow
        free(names_copy);
        return ssm_fail(err, SSM_EFORMAT, "%s: data_height %lld, data_width %lld; expected "
                        "1..65536 each", a->ckpt, (long long)H, (long long)W);
    }
    int64_t n = a->n_inputs, V = cfg->task.num_classes;
    const char **class_names = calloc((size_t)(V > 0 ? V : 1), sizeof *class_names);
    split_lines(names_copy, class_names, V);
    task_data_info d = {.input = {3, {C, H, W}}, .class_names = class_names};
    ssm_task *task = NULL;
    real *x = malloc((size_t)n * C * H * W * sizeof(real));
    rc = x && class_names ? SSM_OK : ssm_fail(err, SSM_ENOMEM, "out of memory for %lld images",
                                              (long long)n);
    if (!rc) rc = task_create(&task, cfg, &d, n, err);
    if (!rc) rc = task_load_checkpoint(task, a->ckpt, 0, NULL, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        real *xi = x + i * C * H * W;
        rc = ssm_png_read(a->inputs[i], xi, C, H, W, SSM_RESIZE_BILINEAR, NULL, NULL, err);
        if (!rc)
            ssm_image_normalize(xi, mean, sd, C, H * W);
    }
    const real *out = NULL;
    if (!rc) rc = model_predict(&task->model, x, n, &out, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        printf("%s", a->inputs[i]);
        task->vt->predict_line(task, stdout, out + i * task->model.K, a->top);
        printf("\n");
    }
    task_free(task);
    free(class_names);
    free(names_copy);
    free(x);
    return rc;
}

int cmd_predict(int argc, char **argv) {
    cli_args a;
    int rc = cli_parse(&a, argc, argv, CLI_SET | CLI_CKPT | CLI_TOP | CLI_INPUTS, USAGE);
    if (rc)
        return rc;
    if (a.help) {
        printf("%s\n\nClassifies PNG images (gray or RGB, resized to the training size) and prints,\n"
               "per input, a tab-separated line: the file, then the top K classes with\n"
               "their probabilities.\n", USAGE);
        return 0;
    }
    if (!a.ckpt || a.n_inputs == 0) {
        fprintf(stderr, "ssmkit predict: --ckpt FILE and at least one INPUT are required\nusage: %s\n",
                USAGE);
        return 2;
    }
    ssm_error err = {0};
    ssm_config cfg;
    ssm_device device;
    if (cli_load_config(&cfg, &a, &err) || cli_open_device(&cfg, &device, &err))
        return cli_fail("predict", &err);
    cli_apply_threads(&cfg);
    return predict(&a, &cfg, &err) ? cli_fail("predict", &err) : 0;
}
