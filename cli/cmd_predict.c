// defines: cmd_predict (ssmkit predict CONFIG --ckpt FILE INPUT.png...)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/checkpoint.h"
#include "datasets/augment.h"
#include "datasets/png.h"
#if SSM_HAVE_CUDA
#include "core/cuda/device.h"
#endif

static const char *USAGE = "ssmkit predict CONFIG --ckpt FILE [--top K] [--set k=v]... INPUT.png...";

// The k-th line of a newline-separated list, into out.
static void nth_line(char *out, size_t n, const char *lines, int64_t k) {
    const char *s = lines;
    for (int64_t i = 0; s && i < k; i++) {
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    if (!s || !*s) {
        snprintf(out, n, "%lld", (long long)k);
        return;
    }
    size_t len = strcspn(s, "\n");
    snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), s);
}

static ssm_code predict(const cli_args *a, const ssm_config *cfg, ssm_error *err) {
    ssm_metadata meta;
    ssm_metadata_init(&meta);
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
        return ssm_error_prefix(err, "%s: not a checkpoint written by `ssmkit train`: ", a->ckpt);
    }
    if (C < 1 || C > SSM_IMAGE_MAX_C) {
        free(names_copy);
        return ssm_fail(err, SSM_EFORMAT, "%s: data_channels %lld, expected 1..%d", a->ckpt,
                        (long long)C, SSM_IMAGE_MAX_C);
    }
    int64_t n = a->n_inputs;
    classify_model model = {0};
    classify_model_spec spec;
    real *x = malloc((size_t)n * C * H * W * sizeof(real));
    rc = x ? SSM_OK : ssm_fail(err, SSM_ENOMEM, "out of memory for %lld images", (long long)n);
    if (!rc) rc = cli_model_spec(&spec, cfg, C, H, W, n, err);
    if (!rc) rc = classify_model_build(&model, &spec, err);
    if (!rc) rc = ssm_checkpoint_load(a->ckpt, &model.params, 0, NULL, err);
#if SSM_HAVE_CUDA
    if (!rc && model.device.kind == SSM_DEVICE_CUDA) // the host table is the master: upload it
        rc = ssm_params_cuda_upload(&model.dparams, &model.params, err);
#endif
    for (int64_t i = 0; !rc && i < n; i++) {
        real *xi = x + i * C * H * W;
        rc = ssm_png_read(a->inputs[i], xi, C, H, W, SSM_RESIZE_BILINEAR, NULL, NULL, err);
        if (!rc)
            ssm_image_normalize(xi, mean, sd, C, H * W);
    }
    const real *logits = NULL;
    if (!rc) rc = classify_model_predict(&model, x, n, &logits, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        const real *lg = logits + i * model.V;
        double mx = -INFINITY, z = 0;
        for (int64_t v = 0; v < model.V; v++)
            mx = fmax(mx, lg[v]);
        for (int64_t v = 0; v < model.V; v++)
            z += exp(lg[v] - mx);
        printf("%s", a->inputs[i]);
        int used[256] = {0};
        for (int k = 0; k < a->top && k < model.V && k < 256; k++) {
            int64_t best = -1;
            for (int64_t v = 0; v < model.V && v < 256; v++)
                if (!used[v] && (best < 0 || lg[v] > lg[best]))
                    best = v;
            used[best] = 1;
            char name[128];
            nth_line(name, sizeof name, names_copy, best);
            printf("\t%s %.4f", name, exp(lg[best] - mx) / z);
        }
        printf("\n");
    }
    free(names_copy);
    free(x);
    classify_model_free(&model);
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
