// defines: the shared plumbing of the subcommands (see cli.h)
#include "cli/cli.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "datasets/pc_parts.h"
#include "kernels/cpu_dispatch.h"
#include "kernels/linear.h"

char *openblas_get_corename(void); // from OpenBLAS (cblas.h declares it too)

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
        TAKE("--folds", CLI_FOLDS, a->folds = atoi(val))
        TAKE("--out", CLI_OUT, a->out = val)
        TAKE("--repeats", CLI_FOLDS, a->repeats = atoi(val))
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
    if ((allowed & CLI_FOLDS) && (a->folds < 0 || a->folds == 1 || a->repeats < 0))
        return usage_error(usage, "%s", "--folds must be >= 2 and --repeats >= 1");
    if ((allowed & CLI_TOP) && a->top < 1)
        return usage_error(usage, "%s", "--top must be >= 1");
    return 0;
}

int cli_parse_dir_options(int argc, char **argv, const char *usage, const char *help,
                          const char **dir, int (*opt)(void *ctx, const char *key, const char *val),
                          void *ctx) {
    *dir = NULL;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            printf("%s\n\n%s", usage, help);
            return 0;
        }
        if (s[0] != '-') {
            if (*dir) {
                fprintf(stderr, "ssmkit: unexpected argument '%s'\nusage: %s\n", s, usage);
                return 2;
            }
            *dir = s;
            continue;
        }
        if (!v) {
            fprintf(stderr, "ssmkit: option '%s' needs a value\nusage: %s\n", s, usage);
            return 2;
        }
        i++;
        int rc = opt(ctx, s, v);
        if (rc == 1)
            fprintf(stderr, "ssmkit: unknown option '%s'\nusage: %s\n", s, usage);
        if (rc)
            return 2;
    }
    if (!*dir) {
        fprintf(stderr, "ssmkit: missing the DIR argument\nusage: %s\n", usage);
        return 2;
    }
    return -1;
}

void cli_blame_config(const char *config, ssm_error *err) {
    size_t n = strlen(config);
    if (err->code == SSM_ECONFIG && strncmp(err->msg, config, n) != 0)
        ssm_error_prefix(err, "%s: ", config);
}

int cli_fail(const char *cmd, const ssm_error *err) {
    fprintf(stderr, "ssmkit %s: error: %s\n", cmd, err->msg);
    return err->code == SSM_ECONFIG || err->code == SSM_EINVAL ? 2 : 1;
}

ssm_code cli_load_config(ssm_config *c, const cli_args *a, ssm_error *err) {
    SSM_TRY(ssm_config_resolve_checked(c, a->config, a->sets, a->n_sets, task_check_config, err));
    if (c->run.precision != SSM_PREC_FP32 && strncmp(c->run.device, "cuda", 4) != 0)
        return ssm_fail(err, SSM_ECONFIG,
                        "%s: run.precision: bf16 is mixed precision on a GPU only (run.device: "
                        "cuda); on the CPU (run.device: %s) models train in fp32 (set "
                        "run.precision: fp32)", a->config, c->run.device);
    return SSM_OK;
}

ssm_code cli_open_device(const ssm_config *c, ssm_device *d, ssm_error *err) {
    SSM_TRY(ssm_device_parse(d, c->run.device, err));
    return ssm_device_open(d, err);
}

void cli_apply_threads(const ssm_config *c) {
    if (c->run.threads > 0)
        omp_set_num_threads((int)c->run.threads);
    // OpenBLAS runs single-threaded inside gemm's own OpenMP split
    // (kernels/linear.c): two thread pools on the same cores oversubscribe them
    gemm_threads_init();
    char cpu[256];
    ssm_cpu_describe(cpu, sizeof cpu);
    ssm_info("cpu: %s; %d threads; OpenBLAS %s", cpu, omp_get_max_threads(),
             openblas_get_corename());
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

ssm_code cli_data_open(cli_data *d, const ssm_config *c, int test_too, ssm_error *err) {
    memset(d, 0, sizeof *d);
    d->conf = c->data;
    task_data_info *in = &d->info;
    if (series_data_is_series(&c->data)) {
        d->series = 1;
        series_data *s = &d->ser;
        SSM_TRY(series_data_open(s, &c->data, (uint64_t)c->run.seed, test_too, err));
        d->train = &s->train;
        d->val = s->has_val ? &s->val : NULL;
        d->test = test_too ? &s->test : NULL;
        in->input.ndim = 2;
        in->input.dims[0] = s->T;
        in->input.dims[1] = s->x_vars; // with data.time_features, the calendar columns first
        if (s->forecast) {
            in->time_features = s->time_feats;
            in->horizon = s->horizon;
            in->out_vars = s->out_vars;
            in->out_std = s->out_std;
        } else {
            in->num_classes = s->num_classes;
            in->class_names = (const char *const *)s->ucr_train.classes;
        }
        if (s->ragged) { // data.pack: one token's shape, and the plan's token budget
            in->input.ndim = 1;
            in->input.dims[0] = s->token;
            in->max_tokens = s->max_tokens;
        }
        return SSM_OK;
    }
    if (mil_data_is_mil(&c->data)) {
        d->mil = 1;
        mil_data *m = &d->bags;
        SSM_TRY(mil_data_open(m, &c->data, (uint64_t)c->run.seed, test_too, err));
        d->train = &m->train;
        d->val = m->has_val ? &m->val : NULL;
        d->test = test_too ? &m->test : NULL;
        in->input.ndim = 1;
        in->input.dims[0] = m->token;
        in->num_classes = m->num_classes;
        in->class_names = (const char *const *)m->class_names;
        in->coords = m->has_coords;
        for (int i = 0; i < 3; i++) // the model plans for the largest of the three batchers
            if (m->max_tokens[i] > in->max_tokens)
                in->max_tokens = m->max_tokens[i];
        const mil_bags *tb = mil_data_bags(m, 2);
        in->test_sample_names = tb ? (const char *const *)tb->names : NULL;
        return SSM_OK;
    }
    if (pc_data_is_points(&c->data)) {
        d->points = 1;
        pc_data *pt = &d->pts;
        SSM_TRY(pc_data_open(pt, &c->data, (uint64_t)c->run.seed, test_too, err));
        d->train = &pt->train;
        d->val = pt->has_val ? &pt->val : NULL;
        d->test = test_too ? &pt->test : NULL;
        in->input.ndim = 2;
        in->input.dims[0] = pt->P;
        in->input.dims[1] = pt->C;
        in->num_classes = pt->num_classes;
        in->class_names = (const char *const *)pt->train_set.class_names;
        in->test_sample_names = test_too ? (const char *const *)pt->test_set.names : NULL;
        in->num_parts = pt->num_parts;
        in->part_range = pt->part_range;
        return SSM_OK;
    }
    if (audio_data_is_audio(&c->data)) {
        d->audio = 1;
        audio_data *a = &d->aud;
        SSM_TRY(audio_data_open(a, &c->data, (uint64_t)c->run.seed, test_too, err));
        d->train = &a->train;
        d->val = a->has_val ? &a->val : NULL;
        d->test = test_too ? &a->test : NULL;
        in->input = (ssm_input_shape){2, {a->T, a->F}};
        in->num_classes = a->num_classes;
        in->class_names = (const char *const *)a->set.class_names;
        return SSM_OK;
    }
    image_data *g = &d->img;
    SSM_TRY(image_data_open(g, &c->data, (uint64_t)c->run.seed, test_too, err));
    d->train = &g->train;
    d->val = g->has_val ? &g->val : NULL;
    d->test = test_too ? &g->test : NULL;
    in->input.ndim = 3;
    in->input.dims[0] = g->C;
    in->input.dims[1] = g->H;
    in->input.dims[2] = g->W;
    in->class_names = (const char *const *)g->train_ds.class_names;
    return SSM_OK;
}

void cli_data_close(cli_data *d) {
    if (d->series)
        series_data_close(&d->ser);
    else if (d->mil)
        mil_data_close(&d->bags);
    else if (d->audio)
        audio_data_close(&d->aud);
    else if (d->points)
        pc_data_close(&d->pts);
    else
        image_data_close(&d->img);
    memset(d, 0, sizeof *d);
}

static ssm_code class_names_meta(ssm_metadata *m, const char *const *names, int64_t k,
                                 ssm_error *err) {
    // sized to the names (AudioSet's 527 names are about 10 KB): never truncated
    size_t cap = 1;
    for (int64_t i = 0; i < k && names; i++)
        cap += strlen(names[i]) + 1;
    char *buf = malloc(cap);
    if (!buf)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld class names", (long long)k);
    size_t len = 0;
    buf[0] = 0;
    for (int64_t i = 0; i < k && names; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "\n" : "", names[i]);
    ssm_code rc = ssm_metadata_set(m, CLI_META_CLASS_NAMES, buf, err);
    free(buf);
    return rc;
}

// The names of the forecasting model's input columns in its order, one per line: predict
// finds them by name in a history CSV.
static ssm_code columns_meta(ssm_metadata *m, const series_data *s, ssm_error *err) {
    size_t len = 1;
    const int64_t c0 = s->ds.vars - s->in_vars;
    for (int64_t j = 0; j < s->in_vars; j++)
        len += strlen(s->ds.names[c0 + j]) + 1;
    char *buf = malloc(len);
    if (!buf)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    size_t used = 0;
    for (int64_t j = 0; j < s->in_vars; j++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", j ? "\n" : "",
                                 s->ds.names[c0 + j]);
    ssm_code rc = ssm_metadata_set(m, "data_columns", buf, err);
    free(buf);
    return rc;
}

// A segmentation set's parts: data_parts (how many), data_part_range (a line "first count"
// per category) and, for the generated parts set, data_part_names (a line per part).
static ssm_code part_metadata(ssm_metadata *m, const pc_data *d, int generated, ssm_error *err) {
    SSM_TRY(ssm_metadata_set_int(m, "data_parts", d->num_parts, err));
    char buf[4096] = "";
    size_t len = 0;
    for (int32_t k = 0; k < d->num_classes && len < sizeof buf; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d %d", k ? "\n" : "",
                                d->part_range[2 * k], d->part_range[2 * k + 1]);
    if (len >= sizeof buf)
        return ssm_fail(err, SSM_EINVAL, "%d categories: too many for the checkpoint's "
                        "metadata", d->num_classes);
    SSM_TRY(ssm_metadata_set(m, "data_part_range", buf, err));
    if (!generated || d->num_parts != PC_PARTS_NUM_PARTS)
        return SSM_OK;
    len = 0;
    for (int32_t k = 0; k < PC_PARTS_NUM_PARTS; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", k ? "\n" : "",
                                PC_PARTS_NAMES[k]);
    return ssm_metadata_set(m, "data_part_names", buf, err);
}

ssm_code cli_data_metadata(ssm_metadata *m, const cli_data *cd, ssm_error *err) {
    char key[64];
    if (cd->series) {
        const series_data *s = &cd->ser;
        SSM_TRY(ssm_metadata_set_int(m, "data_lookback", s->T, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_variates", s->in_vars, err));
        if (!s->forecast) {
            // what predict needs to make a new series into the model's input (ucr_source.h)
            if (s->ragged) {
                SSM_TRY(ssm_metadata_set_int(m, "data_patch_len", s->patch_len, err));
                SSM_TRY(ssm_metadata_set_int(m, "data_patch_stride", s->patch_stride, err));
            }
            for (int64_t j = 0; s->ucr_mean && j < s->in_vars; j++) {
                snprintf(key, sizeof key, "data_mean.%lld", (long long)j);
                SSM_TRY(ssm_metadata_set_double(m, key, s->ucr_mean[j], err));
                snprintf(key, sizeof key, "data_std.%lld", (long long)j);
                SSM_TRY(ssm_metadata_set_double(m, key, s->ucr_std[j], err));
            }
            return class_names_meta(m, (const char *const *)s->ucr_train.classes, s->num_classes,
                                    err);
        }
        SSM_TRY(ssm_metadata_set_int(m, "data_horizon", s->horizon, err));
        // the model's input is these calendar columns (datasets/series_time.h) then the variates
        SSM_TRY(ssm_metadata_set_int(m, "data_time_features", s->time_feats, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_out_variates", s->out_vars, err));
        SSM_TRY(columns_meta(m, s, err));
        for (int64_t j = 0; j < s->in_vars; j++) {
            int64_t col = s->ds.vars - s->in_vars + j;
            snprintf(key, sizeof key, "data_mean.%lld", (long long)j);
            SSM_TRY(ssm_metadata_set_double(m, key, s->ds.mean[col], err));
            snprintf(key, sizeof key, "data_std.%lld", (long long)j);
            SSM_TRY(ssm_metadata_set_double(m, key, s->ds.std[col], err));
        }
        return SSM_OK;
    }
    if (cd->mil) {
        SSM_TRY(ssm_metadata_set_int(m, "data_features", cd->bags.F, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_token", cd->bags.token, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_coords", cd->bags.has_coords, err));
        // predict standardises bags as the batchers did: with the training bags' statistics
        SSM_TRY(ssm_metadata_set_int(m, "data_normalize", cd->bags.mean != NULL, err));
        for (int64_t j = 0; cd->bags.mean && j < cd->bags.F; j++) {
            snprintf(key, sizeof key, "data_mean.%lld", (long long)j);
            SSM_TRY(ssm_metadata_set_double(m, key, cd->bags.mean[j], err));
            snprintf(key, sizeof key, "data_std.%lld", (long long)j);
            SSM_TRY(ssm_metadata_set_double(m, key, cd->bags.std[j], err));
        }
        return class_names_meta(m, (const char *const *)cd->bags.class_names,
                                cd->bags.num_classes, err);
    }
    if (cd->points) {
        SSM_TRY(ssm_metadata_set_int(m, "data_points", cd->pts.P, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_point_values", cd->pts.C, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_normalize", cd->conf.augment.normalize, err));
        static const char *const sampling[] = {"fps", "random", "first"};
        int ps = (int)cd->conf.point_sampling;
        SSM_TRY(ssm_metadata_set(m, "data_point_sampling", ps >= 0 && ps < 3 ? sampling[ps] : "fps",
                                 err));
        if (cd->pts.num_parts > 0 && cd->pts.part_range) // segmentation: what predict needs
            SSM_TRY(part_metadata(m, &cd->pts, cd->conf.name == SSM_DATA_PARTS, err));
        return class_names_meta(m, (const char *const *)cd->pts.train_set.class_names,
                                cd->pts.num_classes, err);
    }
    if (cd->audio) {
        const audio_data *a = &cd->aud;
        SSM_TRY(ssm_metadata_set_int(m, "data_frames", a->T, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_mel", a->F, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_sample_rate", a->sample_rate, err));
        SSM_TRY(ssm_metadata_set_double(m, "data_mean.0", a->mean, err));
        SSM_TRY(ssm_metadata_set_double(m, "data_std.0", a->std, err));
        SSM_TRY(ssm_metadata_set_int(m, "data_normalize", cd->conf.augment.normalize, err));
        return class_names_meta(m, (const char *const *)a->set.class_names, a->num_classes, err);
    }
    const image_data *d = &cd->img;
    SSM_TRY(ssm_metadata_set_int(m, "data_channels", d->C, err));
    SSM_TRY(ssm_metadata_set_int(m, "data_height", d->H, err));
    SSM_TRY(ssm_metadata_set_int(m, "data_width", d->W, err));
    SSM_TRY(ssm_metadata_set_int(m, "data_normalize", cd->conf.augment.normalize, err));
    for (int64_t c = 0; c < d->C; c++) {
        snprintf(key, sizeof key, "data_mean.%lld", (long long)c);
        SSM_TRY(ssm_metadata_set_double(m, key, d->mean[c], err));
        snprintf(key, sizeof key, "data_std.%lld", (long long)c);
        SSM_TRY(ssm_metadata_set_double(m, key, d->std[c], err));
    }
    return class_names_meta(m, (const char *const *)d->train_ds.class_names, d->num_classes, err);
}
