// defines: predict_reader_bags (the predict reader of the MIL recipes)
// Bags of instance features, one packed group per input file, whole (data.max_instances
// does not crop at prediction: the model is planned for the bags as they are):
//   .h5 / .hdf5  a CLAM feature file (datasets/mil_clam.h: `features` [N, D], `coords`
//                [N, 2]), one bag named by the file; read by the CLAM reader itself
//   other        a CSV of numbers: rows of D values are one bag (the file; a first line
//                that is not numbers is a header), rows of D + 2 values are the classic
//                benchmarks' layout `label,bag_id,f1..fD` (datasets/mil_musk.h), one bag per
//                bag_id (the label is not used)
// D must be the checkpoint's data_features. Features are standardised with the training
// bags' data_mean.<j> / data_std.<j> when data_normalize says they were (musk), as the
// evaluation's batches are. A model that takes coordinates (data_coords) needs .h5 files.
// --attention FILE writes every instance's attention weight (the bag head's attention and
// gated poolings): input,sample,instance,attention, and x,y when the file has coordinates.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/predict.h"
#include "core/device_select.h"
#include "datasets/mil_clam.h"
#include "datasets/mil_data.h"
#include "datasets/mil_musk.h"
#include "datasets/series_text.h"
#include "tasks/head_bag.h"
#if SSM_HAVE_CUDA
#include "kernels/cuda/common.h"
#endif

typedef struct {
    int64_t F, token, next;
    int coords;              // the model's tokens end with x, y
    double *mean, *std;      // [F] or NULL
    FILE *attn;              // --attention
    real *xy;                // [cap_xy, 2] the group's instance coordinates (attention rows)
    int has_xy;
    int64_t cap_xy;
    real *attn_host;         // download buffer (CUDA)
    int64_t cap_attn;
} bag_state;

// fmnist_bags makes its bags of IDX images itself: nothing a user has on disk.
static int bg_matches(const ssm_data_config *dc) {
    return mil_data_is_mil(dc) && dc->name != SSM_DATA_FMNIST_BAGS;
}

static void bg_close(void *state) {
    bag_state *s = state;
    if (s->attn)
        fclose(s->attn);
    free(s->mean);
    free(s->std);
    free(s->xy);
    free(s->attn_host);
    free(s);
}

static ssm_code bg_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    bag_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
    SSM_TRY(predict_meta_int(c, "data_features", &s->F, err));
    SSM_TRY(predict_meta_int(c, "data_token", &s->token, err));
    if (s->F < 1 || (s->token != s->F && s->token != s->F + 2))
        return ssm_fail(err, SSM_EFORMAT, "%s: bags of %lld features in tokens of %lld values, "
                        "expected F >= 1 and a token of F or F + 2", c->ckpt, (long long)s->F,
                        (long long)s->token);
    s->coords = s->token == s->F + 2;
    int norm = 0;
    if (ssm_metadata_get(&c->meta, "data_normalize")) {
        SSM_TRY(predict_normalize(c, &norm, err));
    } else { // older checkpoints: the recipes that standardise (musk), as the config says
        norm = c->cfg->data.name == SSM_DATA_MUSK && c->cfg->data.augment.normalize;
    }
    if (norm) {
        SSM_TRY(predict_meta_scaler(c, s->F, &s->mean, &s->std, err));
    }
    if (c->opt->attention) {
        if (!(s->attn = fopen(c->opt->attention, "w")))
            return ssm_fail(err, SSM_EIO, "--attention %s: cannot create the file",
                            c->opt->attention);
    }
    plan->trained = (ssm_input_shape){1, {s->token}};
    plan->ragged = 1;
    plan->coords = s->coords;
    return SSM_OK;
}

static int is_h5(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (!strcmp(dot, ".h5") || !strcmp(dot, ".hdf5"));
}

static ssm_code grow_xy(bag_state *s, int64_t rows, ssm_error *err) {
    if (rows <= s->cap_xy)
        return SSM_OK;
    real *p = realloc(s->xy, (size_t)rows * 2 * sizeof *p);
    if (!p)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    s->xy = p;
    s->cap_xy = rows;
    return SSM_OK;
}

// Bag b of `bags` (tokens of bags->token values) into rows [row0, row0 + len) of g->x
// (tokens of s->token values), the coordinates aside when the file has them.
static ssm_code take_bag(bag_state *s, const mil_bags *bags, int64_t b, predict_group *g,
                         int64_t row0, real *tmp, ssm_error *err) {
    int64_t len = bags->len[b], T = bags->token;
    SSM_TRY(bags->read(bags, b, NULL, len, tmp, NULL, err));
    SSM_TRY(grow_xy(s, row0 + len, err));
    for (int64_t t = 0; t < len; t++) {
        const real *src = tmp + t * T;
        real *dst = g->x + (row0 + t) * s->token;
        for (int64_t j = 0; j < s->F; j++)
            dst[j] = s->mean ? (real)((src[j] - s->mean[j]) / s->std[j]) : src[j];
        if (bags->has_coords) {
            s->xy[2 * (row0 + t)] = src[s->F];
            s->xy[2 * (row0 + t) + 1] = src[s->F + 1];
            if (s->coords) {
                dst[s->F] = src[s->F];
                dst[s->F + 1] = src[s->F + 1];
            }
        }
    }
    return SSM_OK;
}

// Every bag of `bags` as the group's samples.
static ssm_code fill_group(bag_state *s, const mil_bags *bags, const char *path, int named,
                           predict_group *g, ssm_error *err) {
    int64_t total = 0, longest = 0;
    for (int64_t b = 0; b < bags->n; b++) {
        total += bags->len[b];
        longest = bags->len[b] > longest ? bags->len[b] : longest;
    }
    SSM_TRY(predict_group_alloc(g, bags->n, total * s->token, err));
    real *tmp = malloc((size_t)(longest * bags->token) * sizeof *tmp);
    if (!tmp)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory for a bag of %lld instances", path,
                        (long long)longest);
    ssm_code rc = SSM_OK;
    g->offsets[0] = 0;
    for (int64_t b = 0; b < bags->n && rc == SSM_OK; b++) {
        rc = take_bag(s, bags, b, g, g->offsets[b], tmp, err);
        g->offsets[b + 1] = g->offsets[b] + bags->len[b];
        g->items[b] = (predict_item){.input = path, .start = -1, .tokens = bags->len[b]};
        if (named)
            snprintf(g->items[b].sample, sizeof g->items[b].sample, "%s", bags->names[b]);
    }
    free(tmp);
    s->has_xy = bags->has_coords;
    g->n = rc == SSM_OK ? bags->n : 0;
    return rc;
}

static ssm_code read_h5(predict_ctx *c, bag_state *s, const char *path, predict_group *g,
                        ssm_error *err) {
    mil_bags bags;
    char *paths[1] = {(char *)path};
    // coordinates also for the attention file when the file has them
    ssm_code rc = mil_clam_open_files(&bags, paths, 1, s->coords || s->attn, err);
    if (rc != SSM_OK && !s->coords && s->attn)
        rc = mil_clam_open_files(&bags, paths, 1, 0, err);
    SSM_TRY(rc);
    if (bags.F != s->F)
        rc = ssm_fail(err, SSM_EDATA, "%s: instances of %lld features, the model takes %lld "
                      "(data_features)", path, (long long)bags.F, (long long)s->F);
    if (rc == SSM_OK)
        rc = fill_group(s, &bags, path, 0, g, err);
    mil_bags_free(&bags);
    return rc;
}

// A CSV of rows of F numbers (one bag) or of F + 2 (the musk layout).
static ssm_code read_csv(predict_ctx *c, bag_state *s, const char *path, predict_group *g,
                         ssm_error *err) {
    if (s->coords)
        return ssm_fail(err, SSM_EINVAL, "%s: the model takes patch coordinates (data.coords): "
                        "give CLAM .h5 feature files, not a CSV", path);
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    series_lines it;
    series_lines_init(&it, &t);
    const char *line;
    size_t len;
    int64_t fields = 0, rows = 0, header = 0;
    while (series_next_line(&it, &line, &len)) {
        series_trim(&line, &len);
        if (!len)
            continue;
        if (!fields) {
            fields = 1;
            for (size_t i = 0; i < len; i++)
                fields += line[i] == ',';
            double v;
            const char *comma = memchr(line, ',', len);
            size_t n0 = comma ? (size_t)(comma - line) : len;
            header = series_parse_number(line, n0, &v) == SERIES_NUM_BAD && fields == s->F;
        }
        rows++;
    }
    if (fields == s->F + 2) { // label,bag_id,f1..fD: the musk reader
        series_text_free(&t);
        mil_bags bags;
        SSM_TRY(mil_musk_read(&bags, path, err));
        ssm_code rc = fill_group(s, &bags, path, 1, g, err);
        mil_bags_free(&bags);
        return rc;
    }
    ssm_code rc = SSM_OK;
    if (rows - header < 1)
        rc = ssm_fail(err, SSM_EDATA, "%s: no instances", path);
    else if (fields != s->F)
        rc = ssm_fail(err, SSM_EDATA, "%s: rows of %lld values; the model takes %lld features "
                      "per instance (data_features): rows of %lld, or of %lld as "
                      "label,bag_id,features", path, (long long)fields, (long long)s->F,
                      (long long)s->F, (long long)s->F + 2);
    int64_t n = rows - header;
    if (rc == SSM_OK)
        rc = predict_group_alloc(g, 1, n * s->token, err);
    series_lines_init(&it, &t);
    for (int64_t r = 0, seen = 0; rc == SSM_OK && series_next_line(&it, &line, &len);) {
        series_trim(&line, &len);
        if (!len || (header && seen++ == 0))
            continue;
        const char *p = line, *end = line + len;
        for (int64_t j = 0; rc == SSM_OK && j < s->F; j++) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *cell = p;
            size_t n_cell = comma ? (size_t)(comma - p) : (size_t)(end - p);
            series_trim(&cell, &n_cell);
            double v;
            if ((j < s->F - 1 && !comma) || (j == s->F - 1 && comma) ||
                series_parse_number(cell, n_cell, &v) != SERIES_NUM_OK) {
                char snip[64];
                series_snippet(snip, sizeof snip, cell, n_cell);
                rc = ssm_fail(err, SSM_EDATA, "%s: line %lld: value %lld '%s': expected %lld "
                              "finite numbers separated by commas", path, (long long)it.lineno,
                              (long long)j + 1, snip, (long long)s->F);
                break;
            }
            g->x[r * s->token + j] = s->mean ? (real)(((double)(real)v - s->mean[j]) / s->std[j])
                                             : (real)v;
            p = comma ? comma + 1 : end;
        }
        r++;
    }
    series_text_free(&t);
    if (rc != SSM_OK)
        return rc;
    g->offsets[0] = 0;
    g->offsets[1] = n;
    g->items[0] = (predict_item){.input = path, .start = -1, .tokens = n};
    s->has_xy = 0;
    g->n = 1;
    return SSM_OK;
}

static ssm_code bg_next(predict_ctx *c, void *state, predict_group *g, ssm_error *err) {
    bag_state *s = state;
    if (s->next == c->n_inputs)
        return SSM_OK;
    const char *path = c->inputs[s->next++];
    g->ragged = 1;
    g->shape = (ssm_input_shape){1, {s->token}};
    return is_h5(path) ? read_h5(c, s, path, g, err) : read_csv(c, s, path, g, err);
}

// s then a comma; quoted when it holds a comma, a quote or a line break.
static void csv_cell(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fprintf(f, "%s,", s);
        return;
    }
    fputc('"', f);
    for (; *s; s++)
        fputs(*s == '"' ? "\"\"" : (char[]){*s, 0}, f);
    fputs("\",", f);
}

// The attention rows of the group: each instance's weight in its bag's pooling.
static ssm_code bg_after(predict_ctx *c, void *state, const ssm_task *t, const predict_group *g,
                         ssm_error *err) {
    bag_state *s = state;
    if (!s->attn)
        return SSM_OK;
    const real *a = ssm_head_bag_attention(t->model.head);
    if (!a)
        return ssm_fail(err, SSM_ECONFIG, "--attention: task.pool has no attention weights "
                        "(attention and gated pooling have)");
    const ssm_trunk *tr = &t->model.trunk;
#if SSM_HAVE_CUDA
    if (t->model.device.kind == SSM_DEVICE_CUDA) {
        int64_t T = tr->tpack.total;
        if (T > s->cap_attn) {
            real *p = realloc(s->attn_host, (size_t)T * sizeof *p);
            if (!p)
                return ssm_fail(err, SSM_ENOMEM, "out of memory");
            s->attn_host = p;
            s->cap_attn = T;
        }
        if (ssm_cuda_download(s->attn_host, a, (size_t)T * sizeof(real)))
            return ssm_fail(err, SSM_EDEVICE, "copying the attention weights back failed");
        a = s->attn_host;
    }
#endif
    if (ftell(s->attn) == 0)
        fprintf(s->attn, "input,sample,instance,attention%s\n", s->has_xy ? ",x,y" : "");
    for (int64_t b = 0; b < g->n; b++) {
        const real *ab = a + tr->tok_off[b] + tr->extra; // a class token has a weight too
        for (int64_t i = 0; i < g->offsets[b + 1] - g->offsets[b]; i++) {
            csv_cell(s->attn, g->items[b].input);
            csv_cell(s->attn, g->items[b].sample);
            fprintf(s->attn, "%lld,%.9g", (long long)i, (double)ab[i]);
            if (s->has_xy) {
                const real *xy = s->xy + 2 * (g->offsets[b] + i);
                fprintf(s->attn, ",%.9g,%.9g", (double)xy[0], (double)xy[1]);
            }
            fputc('\n', s->attn);
        }
    }
    if (ferror(s->attn))
        return ssm_fail(err, SSM_EIO, "--attention %s: write failed", c->opt->attention);
    return SSM_OK;
}

const predict_reader predict_reader_bags = {
    .name = "bags",
    .inputs = "MIL bags: CLAM .h5 feature files, or CSVs of features",
    .matches = bg_matches,
    .open = bg_open,
    .next = bg_next,
    .after = bg_after,
    .close = bg_close,
};
