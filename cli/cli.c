// defines: the shared plumbing of the subcommands (see cli.h)
#include "cli/cli.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"

void openblas_set_num_threads(int num_threads); // from OpenBLAS (cblas.h declares it too)

static int usage_error(const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "ssmkit: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s\n", usage);
    return 2;
}

int cli_parse(cli_args *a, int argc, char **argv, unsigned allowed, const char *usage) {
    memset(a, 0, sizeof *a);
    a->top = 3;
    a->tolerance = 1e-3;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            a->help = 1;
            return 0;
        }
#define TAKE(flag, bit, field)                                                   \
    if (!strcmp(s, flag)) {                                                      \
        if (!(allowed & (bit)))                                                  \
            return usage_error(usage, "unknown option '%s'", s);                 \
        if (!val)                                                                \
            return usage_error(usage, "option '%s' needs a value", s);           \
        field;                                                                   \
        i++;                                                                     \
        continue;                                                                \
    }
        TAKE("--set", CLI_SET, {
            if (a->n_sets == CLI_MAX_SETS)
                return usage_error(usage, "too many --set options (at most %s)", "64");
            a->sets[a->n_sets++] = val;
        })
        TAKE("--resume", CLI_RESUME, a->resume = val)
        TAKE("--ckpt", CLI_CKPT, a->ckpt = val)
        TAKE("--split", CLI_SPLIT, a->split = val)
        TAKE("--top", CLI_TOP, a->top = atoi(val))
        TAKE("--tolerance", CLI_TOL, a->tolerance = atof(val))
#undef TAKE
        if (s[0] == '-' && s[1])
            return usage_error(usage, "unknown option '%s'", s);
        if (!a->config)
            a->config = s;
        else if ((allowed & CLI_INPUTS) && a->n_inputs < CLI_MAX_INPUTS)
            a->inputs[a->n_inputs++] = s;
        else
            return usage_error(usage, "unexpected argument '%s'", s);
    }
    if (!a->config)
        return usage_error(usage, "%s", "missing the CONFIG argument");
    if (a->split && strcmp(a->split, "val") && strcmp(a->split, "test"))
        return usage_error(usage, "--split must be val or test, not '%s'", a->split);
    if ((allowed & CLI_TOP) && a->top < 1)
        return usage_error(usage, "%s", "--top must be >= 1");
    return 0;
}

int cli_fail(const char *cmd, const ssm_error *err) {
    fprintf(stderr, "ssmkit %s: error: %s\n", cmd, err->msg);
    return err->code == SSM_ECONFIG || err->code == SSM_EINVAL ? 2 : 1;
}

ssm_code cli_load_config(ssm_config *c, const cli_args *a, ssm_error *err) {
    return ssm_config_resolve(c, a->config, a->sets, a->n_sets, err);
}

void cli_apply_threads(const ssm_config *c) {
    if (c->run.threads > 0) {
        omp_set_num_threads((int)c->run.threads);
        openblas_set_num_threads((int)c->run.threads);
    }
}

static ssm_cls_position cls_from_config(ssm_cls_token t) {
    switch (t) {
    case SSM_CFG_CLS_HEAD: return SSM_CLS_HEAD;
    case SSM_CFG_CLS_MIDDLE: return SSM_CLS_MIDDLE;
    default: return SSM_CLS_NONE;
    }
}

ssm_code cli_model_spec(classify_model_spec *s, const ssm_config *c, int64_t C, int64_t H,
                        int64_t W, int64_t batch, ssm_error *err) {
    memset(s, 0, sizeof *s);
    s->adapter = c->adapter.name;
    ssm_adapter_options_defaults(&s->adapter_opt);
    s->adapter_opt.patch_size = c->adapter.patch_size;
    s->adapter_opt.stride = c->adapter.stride;
    s->adapter_opt.in_channels = c->adapter.channels;
    s->adapter_opt.cls_token = cls_from_config(c->adapter.cls_token);
    s->adapter_opt.n_orders = (int)c->adapter.orders_count;
    for (uint32_t i = 0; i < c->adapter.orders_count && i < SSM_ADAPTER_MAX_ORDERS; i++)
        snprintf(s->adapter_opt.orders[i], SSM_ADAPTER_NAME_MAX, "%s", c->adapter.orders[i]);
    s->input.ndim = 3;
    s->input.dims[0] = C;
    s->input.dims[1] = H;
    s->input.dims[2] = W;
    mamba_config *b = &s->backbone;
    mamba_config_defaults(b);
    b->d_model = c->backbone.d_model;
    b->n_layers = c->backbone.n_layers;
    b->d_state = c->backbone.d_state;
    b->d_conv = c->backbone.d_conv;
    b->expand = c->backbone.expand;
    b->dt_rank = c->backbone.dt_rank;
    b->dt_min = c->backbone.dt_min;
    b->dt_max = c->backbone.dt_max;
    b->dt_init_floor = c->backbone.dt_init_floor;
    b->norm = c->backbone.norm == SSM_NORM_LAYER ? MAMBA_NORM_LAYER : MAMBA_NORM_RMS;
    b->norm_eps = c->backbone.norm_eps;
    b->n_branches = (int)c->backbone.n_branches; // 0: one per adapter order
    b->merge = c->backbone.merge == SSM_MERGE_SUM ? MAMBA_MERGE_SUM : MAMBA_MERGE_MEAN;
    b->scan_chunk = c->backbone.scan_chunk;
    b->final_norm = c->backbone.final_norm;
    s->num_classes = c->task.num_classes;
    s->mean_pool = c->task.pool == SSM_POOL_MEAN;
    s->B_max = batch;
    s->label_smoothing = c->task.label_smoothing;
    s->seed = (uint64_t)c->run.seed;
    (void)err;
    return SSM_OK;
}

ssm_code cli_mkdirs(const char *path, ssm_error *err) {
    char buf[SSM_CFG_PATH_MAX * 2];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return ssm_fail(err, SSM_EIO, "%s: cannot create folder: %s", buf, strerror(errno));
            *p = saved;
            if (!saved)
                break;
        }
    }
    return SSM_OK;
}

ssm_code cli_data_metadata(ssm_metadata *m, const image_data *d, ssm_error *err) {
    SSM_TRY(ssm_metadata_set_int(m, "data_channels", d->C, err));
    SSM_TRY(ssm_metadata_set_int(m, "data_height", d->H, err));
    SSM_TRY(ssm_metadata_set_int(m, "data_width", d->W, err));
    for (int64_t c = 0; c < d->C; c++) {
        char key[64];
        snprintf(key, sizeof key, "data_mean.%lld", (long long)c);
        SSM_TRY(ssm_metadata_set_double(m, key, d->mean[c], err));
        snprintf(key, sizeof key, "data_std.%lld", (long long)c);
        SSM_TRY(ssm_metadata_set_double(m, key, d->std[c], err));
    }
    size_t len = 0;
    char names[4096] = "";
    for (int32_t k = 0; k < d->num_classes && d->train_ds.class_names; k++)
        len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s",
                                k ? "\n" : "", d->train_ds.class_names[k]);
    return ssm_metadata_set(m, CLI_META_CLASS_NAMES, names, err);
}
