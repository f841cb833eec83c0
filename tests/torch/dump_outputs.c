// defines: the test driver `dump_outputs` (tests/torch/test_torch_roundtrip.py runs it)
// ssmkit's outputs at full precision for inputs given as raw numbers, so that another
// implementation (the PyTorch module tools/pytorch/ssmkit_torch.py) can be compared with
// the library itself rather than with rounded text:
//
//   dump_outputs CKPT IN.f32 N OUT.f32
//
// rebuilds the model from CKPT alone, as `ssmkit eval` would from the same config: the
// resolved config its metadata `config` carries, one sample's shape from its data_*
// metadata (images: data_channels, data_height, data_width; series: data_lookback,
// data_variates, and data_horizon, data_out_variates for forecast and regress), the
// weights through task_load_checkpoint. IN.f32 holds N samples as little-endian float32,
// each the model's input (already standardised: what model_predict takes); OUT.f32
// receives the N x K outputs (logits, forecasts, values) as float32. Prints one JSON
// line {"n": N, "k": K} on success; on error, the reason and exit status 1 (2: usage).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/metadata.h"
#include "tasks/model.h"
#include "tasks/task_run.h"

// The shape of one sample from the checkpoint's data_* metadata.
static ssm_code data_info(const ssm_metadata *m, const char *ckpt, task_data_info *d,
                          ssm_error *err) {
    memset(d, 0, sizeof *d);
    int64_t a, b, c;
    if (ssm_metadata_get(m, "data_channels")) {
        SSM_TRY(ssm_metadata_get_int(m, "data_channels", &a, err));
        SSM_TRY(ssm_metadata_get_int(m, "data_height", &b, err));
        SSM_TRY(ssm_metadata_get_int(m, "data_width", &c, err));
        d->input = (ssm_input_shape){3, {a, b, c}};
        return SSM_OK;
    }
    if (ssm_metadata_get(m, "data_lookback")) {
        SSM_TRY(ssm_metadata_get_int(m, "data_lookback", &a, err));
        SSM_TRY(ssm_metadata_get_int(m, "data_variates", &b, err));
        d->input = (ssm_input_shape){2, {a, b}};
        if (ssm_metadata_get(m, "data_horizon")) {
            SSM_TRY(ssm_metadata_get_int(m, "data_horizon", &d->horizon, err));
            SSM_TRY(ssm_metadata_get_int(m, "data_out_variates", &d->out_vars, err));
        }
        return SSM_OK;
    }
    return ssm_fail(err, SSM_EFORMAT, "%s: no data_channels nor data_lookback metadata: not an "
                    "image or series checkpoint written by `ssmkit train`", ckpt);
}

// The resolved config of the checkpoint's `config` metadata (through a temporary file:
// the config is read from files only).
static ssm_code config_of(const ssm_metadata *m, const char *ckpt, ssm_config *cfg,
                          ssm_error *err) {
    const char *yaml = ssm_metadata_get(m, "config");
    if (!yaml)
        return ssm_fail(err, SSM_EFORMAT, "%s: no `config` metadata (written by `ssmkit train`)",
                        ckpt);
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/dump_outputs_XXXXXX.yaml", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 5);
    if (fd < 0)
        return ssm_fail(err, SSM_EIO, "%s: cannot create a temporary file", path);
    size_t n = strlen(yaml);
    ssize_t w = write(fd, yaml, n);
    close(fd);
    ssm_code rc = w == (ssize_t)n ? ssm_config_resolve(cfg, path, NULL, 0, err)
                                  : ssm_fail(err, SSM_EIO, "%s: short write", path);
    unlink(path);
    return rc ? ssm_error_prefix(err, "%s: its config: ", ckpt) : SSM_OK;
}

static ssm_code run(const char *ckpt, const char *in_path, int64_t N, const char *out_path,
                    ssm_error *err) {
    ssm_ckpt_info info;
    SSM_TRY(ssm_checkpoint_inspect(ckpt, &info, err));
    ssm_config cfg;
    task_data_info d;
    ssm_code rc = config_of(&info.meta, ckpt, &cfg, err);
    if (!rc)
        rc = data_info(&info.meta, ckpt, &d, err);
    ssm_ckpt_info_free(&info);
    if (rc)
        return rc;
    ssm_task *task = NULL;
    real *x = NULL;
    float *buf = NULL;
    FILE *f = NULL;
    SSM_TRY(task_create(&task, &cfg, &d, N, err));
    rc = task_load_checkpoint(task, ckpt, 0, NULL, err);
    const int64_t in_n = N * task->model.in_numel, K = task->model.K;
    if (!rc) {
        x = malloc((size_t)in_n * sizeof *x);
        buf = malloc((size_t)(in_n > N * K ? in_n : N * K) * sizeof *buf);
        if (!x || !buf)
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory for %lld samples", (long long)N);
    }
    if (!rc && !(f = fopen(in_path, "rb")))
        rc = ssm_fail(err, SSM_EIO, "%s: cannot open", in_path);
    if (!rc) {
        size_t got = fread(buf, sizeof *buf, (size_t)in_n, f);
        int extra = fgetc(f) != EOF;
        fclose(f);
        f = NULL;
        if (got != (size_t)in_n || extra)
            rc = ssm_fail(err, SSM_EFORMAT, "%s: expected %lld float32 values (%lld samples of "
                          "%lld), found %s", in_path, (long long)in_n, (long long)N,
                          (long long)task->model.in_numel, extra ? "more" : "fewer");
    }
    for (int64_t i = 0; !rc && i < in_n; i++)
        x[i] = (real)buf[i];
    const real *out = NULL;
    if (!rc)
        rc = model_predict(&task->model, x, N, &out, err);
    if (!rc) {
        for (int64_t i = 0; i < N * K; i++)
            buf[i] = (float)out[i];
        f = fopen(out_path, "wb");
        int bad = !f || fwrite(buf, sizeof *buf, (size_t)(N * K), f) != (size_t)(N * K);
        bad |= f && fclose(f) != 0;
        if (bad)
            rc = ssm_fail(err, SSM_EIO, "%s: cannot write the outputs", out_path);
        else
            printf("{\"n\": %lld, \"k\": %lld}\n", (long long)N, (long long)K);
    }
    task_free(task);
    free(x);
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 5 || atoll(argv[3]) < 1) {
        fprintf(stderr, "usage: %s CKPT IN.f32 N OUT.f32\n", argv[0]);
        return 2;
    }
    ssm_error err = {0};
    if (run(argv[1], argv[2], atoll(argv[3]), argv[4], &err)) {
        fprintf(stderr, "dump_outputs: %s\n", err.msg);
        return 1;
    }
    return 0;
}
