// defines: predict_reader_points (the predict reader of the point-cloud recipes)
// Point files as datasets/pc_cloud.h reads them: text (.txt, .xyz, .pts, .csv: x y z
// [nx ny nz]), .ply (ASCII or binary) and .off. A mesh (.off, or a .ply with faces)
// becomes PC_OFF_OVERSAMPLE x data_points area-weighted surface samples first, as the
// modelnet_off recipe makes its clouds; point files are taken as they are. Then exactly
// the training set's preparation (datasets/pc_set.h, pc_set_fill): reduced to data_points
// points by data_point_sampling (FPS by default, deterministic), the first
// data_point_values channels kept (6: the normals are required), centred and scaled to the
// unit sphere when data_normalize. Random choices (random sampling, mesh samples) draw
// from run.seed and the input's position. Groups of PREDICT_CHUNK clouds.
//
// A segmentation model (task.name segment) labels every point of the file (of a mesh: every
// surface sample): the model runs on the data_points prepared points, and each point of the
// file takes the part of its nearest prepared point (itself when it was kept; the sampling
// is redone from the same key to know which were), with the category-conditioned
// prediction of the evaluation: the argmax and the softmax over the category's parts only
// (data_part_range). The category is --category NAME (a name of class_names, or its
// number), required when the model is conditioned on one (ShapeNetPart's 16); a model of one
// category needs none. The reader writes the rows itself, one per point:
//   text  input, point, x, y, z (the file's coordinates), the part (its name when the
//         checkpoint has data_part_names, else its id), the probability; tab-separated
//   csv   input,category,point,x,y,z,part,part_name,probability
//   json  {"checkpoint", "task", "predictions": [{"input", "category", "points":
//         [{"point", "x", "y", "z", "part", "part_name", "probability"}, ...]}, ...]}
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/predict.h"
#include "core/rng.h"
#include "datasets/pc_augment.h"
#include "datasets/pc_data.h"
#include "datasets/pc_modelnet.h"
#include "datasets/pc_set.h"
#include "kernels/pointops.h"
#include "tasks/head_segment.h"

typedef struct {
    pc_prep prep;
    int64_t next;
    // segmentation only
    int seg;
    int64_t NC, parts;         // categories, parts
    int32_t *range;            // [NC, 2] each category's parts {first, count}
    char *cat_buf, *part_buf;  // the metadata's names, split in place
    const char **cat_names;    // [NC] (entries may be NULL: numbered)
    const char **part_names;   // [parts], or NULL (no names)
    int32_t category;
    int32_t cats[PREDICT_CHUNK];
    pc_cloud raw[PREDICT_CHUNK]; // the group's clouds as read (the rows' points)
    uint64_t group_seed;       // the group's prep seed: cloud i was keyed pc_prep_key(it, i)
    int begun;                 // the output's header / opening is written
} points_state;

typedef struct {
    const char *const *paths;
    int64_t mesh_points;
    pc_cloud *keep; // segmentation: a copy of every cloud read, or NULL
} load_ctx;

static void pt_close(void *state) {
    points_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < PREDICT_CHUNK; i++)
        pc_cloud_free(&s->raw[i]);
    free(s->range);
    free(s->cat_buf);
    free(s->part_buf);
    free(s->cat_names);
    free(s->part_names);
    free(s);
}

// Splits buf's lines into names[0..n) (fewer lines leave NULLs).
static void split_lines(char *buf, const char **names, int64_t n) {
    for (int64_t i = 0; i < n && buf && *buf; i++) {
        names[i] = buf;
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = 0;
        buf = nl ? nl + 1 : NULL;
    }
}

// The parts of a segmentation checkpoint (data_parts, data_part_range, data_part_names) and
// the category --category names.
static ssm_code seg_open(predict_ctx *c, points_state *s, predict_plan *plan, ssm_error *err) {
    s->seg = 1;
    SSM_TRY(predict_meta_int(c, "data_parts", &s->parts, err));
    const char *rs = predict_meta(c, "data_part_range", err);
    if (!rs)
        return err->code;
    if (s->parts < 2 || s->parts > INT32_MAX)
        return ssm_fail(err, SSM_EFORMAT, "%s: metadata data_parts = %lld, expected >= 2",
                        c->ckpt, (long long)s->parts);
    for (const char *p = rs; *p; p++)
        s->NC += *p == '\n';
    s->NC++;
    if (!(s->range = calloc((size_t)s->NC * 2, sizeof *s->range)))
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    const char *p = rs;
    for (int64_t k = 0; k < s->NC; k++) {
        char *end;
        long first = strtol(p, &end, 10);
        long count = end != p && *end == ' ' ? strtol(end, &end, 10) : -1;
        if (end == p || (*end && *end != '\n') || first < 0 || count < 1 ||
            first + count > s->parts)
            return ssm_fail(err, SSM_EFORMAT, "%s: metadata data_part_range, line %lld: expected "
                            "'first count' of parts within the %lld parts", c->ckpt,
                            (long long)k + 1, (long long)s->parts);
        s->range[2 * k] = (int32_t)first;
        s->range[2 * k + 1] = (int32_t)count;
        p = *end ? end + 1 : end;
    }
    s->cat_names = calloc((size_t)s->NC, sizeof *s->cat_names);
    if (!s->cat_names)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_error ignored = {0};
    const char *names = predict_meta(c, CLI_META_CLASS_NAMES, &ignored);
    if (names && !(s->cat_buf = strdup(names)))
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    split_lines(s->cat_buf, s->cat_names, s->NC);
    // part names are optional: the checkpoint's, or the config data's when it was opened
    const char *pn = ssm_metadata_get(&c->meta, "data_part_names");
    if (!pn && c->data_tried)
        pn = ssm_metadata_get(&c->data_meta, "data_part_names");
    if (pn) {
        s->part_names = calloc((size_t)s->parts, sizeof *s->part_names);
        if (!s->part_names || !(s->part_buf = strdup(pn)))
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        split_lines(s->part_buf, s->part_names, s->parts);
    }
    // the category: by name or number; required when the model is conditioned on one
    char list[1024];
    size_t used = 0;
    for (int64_t k = 0; k < s->NC && used < sizeof list; k++)
        used += (size_t)(s->cat_names[k]
                             ? snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "",
                                        s->cat_names[k])
                             : snprintf(list + used, sizeof list - used, "%s%lld", k ? ", " : "",
                                        (long long)k));
    const char *want = c->opt->category;
    if (!want && s->NC > 1)
        return ssm_fail(err, SSM_EINVAL, "this segmentation model is conditioned on the "
                        "object's category (%lld categories): give --category NAME, one of %s",
                        (long long)s->NC, list);
    s->category = -1;
    for (int64_t k = 0; want && k < s->NC && s->category < 0; k++)
        if (s->cat_names[k] && !strcasecmp(s->cat_names[k], want))
            s->category = (int32_t)k;
    if (want && s->category < 0) {
        char *end;
        long v = strtol(want, &end, 10);
        if (end != want && !*end && v >= 0 && v < s->NC)
            s->category = (int32_t)v;
    }
    if (!want)
        s->category = 0;
    if (s->category < 0)
        return ssm_fail(err, SSM_EINVAL, "--category %s: not a category of this model; one of "
                        "%s (or its number, 0..%lld)", want, list, (long long)s->NC - 1);
    for (int i = 0; i < PREDICT_CHUNK; i++)
        s->cats[i] = s->category;
    plan->categories = s->NC;
    plan->num_parts = s->parts;
    plan->part_range = s->range;
    plan->own_rows = 1;
    return SSM_OK;
}

static int pt_matches(const ssm_data_config *dc) { return pc_data_is_points(dc); }

static ssm_code pt_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    points_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
    if (!strcmp(c->cfg->task.name, "segment"))
        SSM_TRY(seg_open(c, s, plan, err));
    else if (c->opt->category)
        return ssm_fail(err, SSM_EINVAL, "--category: the model segments nothing (task.name is "
                        "%s, not segment)", c->cfg->task.name);
    int64_t P, C;
    SSM_TRY(predict_meta_int(c, "data_points", &P, err));
    SSM_TRY(predict_meta_int(c, "data_point_values", &C, err));
    if (P < 1 || (C != 3 && C != 6))
        return ssm_fail(err, SSM_EFORMAT, "%s: clouds of %lld points x %lld values, expected "
                        "at least one point of 3 or 6 values", c->ckpt, (long long)P,
                        (long long)C);
    int norm;
    SSM_TRY(predict_normalize(c, &norm, err));
    ssm_point_sampling ps = c->cfg->data.point_sampling;
    const char *name = ssm_metadata_get(&c->meta, "data_point_sampling");
    if (name) {
        if (!strcmp(name, "fps") || !strcmp(name, "random") || !strcmp(name, "first"))
            ps = !strcmp(name, "fps") ? SSM_POINTS_FPS
                 : !strcmp(name, "random") ? SSM_POINTS_RANDOM : SSM_POINTS_FIRST;
        else
            return ssm_fail(err, SSM_EFORMAT, "%s: metadata data_point_sampling = '%s', expected "
                            "fps, random or first", c->ckpt, name);
    }
    s->prep = (pc_prep){.num_points = P,
                        .sampling = ps == SSM_POINTS_RANDOM  ? PC_SAMPLE_RANDOM
                                    : ps == SSM_POINTS_FIRST ? PC_SAMPLE_FIRST
                                                             : PC_SAMPLE_FPS,
                        .normals = C == 6,
                        .normalize = norm,
                        .seed = ssm_seed_derive((uint64_t)c->cfg->run.seed, 303)};
    plan->trained = (ssm_input_shape){2, {P, C}};
    return SSM_OK;
}

static int has_ext(const char *path, const char *ext) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) && !strcasecmp(dot + 1, ext);
}

static ssm_code read_cloud(const load_ctx *c, int64_t i, uint64_t key, pc_cloud *raw,
                           ssm_error *err);

// Cloud i (and, for a segmentation model, a copy kept for its rows).
static ssm_code load(void *vctx, int64_t i, uint64_t key, pc_cloud *raw, ssm_error *err) {
    const load_ctx *c = vctx;
    SSM_TRY(read_cloud(c, i, key, raw, err));
    if (!c->keep)
        return SSM_OK;
    pc_cloud *k = &c->keep[i];
    *k = (pc_cloud){.n = raw->n, .C = raw->C};
    if (!(k->p = malloc((size_t)(raw->n * raw->C) * sizeof *k->p)))
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", c->paths[i]);
    memcpy(k->p, raw->p, (size_t)(raw->n * raw->C) * sizeof *k->p);
    return SSM_OK;
}

// Cloud i: a mesh's surface samples, or a point file's points.
static ssm_code read_cloud(const load_ctx *c, int64_t i, uint64_t key, pc_cloud *raw,
                           ssm_error *err) {
    const char *path = c->paths[i];
    int off = has_ext(path, "off");
    if (!off && !has_ext(path, "ply"))
        return pc_read_points(raw, path, err);
    pc_mesh m;
    SSM_TRY(off ? pc_read_off(&m, path, err) : pc_read_ply(&m, path, err));
    ssm_code rc = SSM_OK;
    if (off || m.nf > 0) {
        rc = pc_mesh_sample(raw, &m, c->mesh_points, key, path, err);
        pc_mesh_free(&m);
        return rc;
    }
    pc_mesh_free(&m); // a .ply of points: read as a cloud
    return pc_read_points(raw, path, err);
}

static ssm_code pt_next(predict_ctx *c, void *state, predict_group *g, ssm_error *err) {
    points_state *s = state;
    int64_t n = c->n_inputs - s->next < PREDICT_CHUNK ? c->n_inputs - s->next : PREDICT_CHUNK;
    if (n <= 0)
        return SSM_OK;
    pc_set set = {0};
    ssm_code rc = pc_set_alloc(&set, n, &s->prep, 0, err);
    for (int64_t i = 0; rc == SSM_OK && i < n; i++)
        if (!(set.names[i] = strdup(c->inputs[s->next + i])))
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int i = 0; i < PREDICT_CHUNK; i++)
        pc_cloud_free(&s->raw[i]);
    load_ctx lc = {c->inputs + s->next, PC_OFF_OVERSAMPLE * s->prep.num_points,
                   s->seg ? s->raw : NULL};
    // pc_set_fill keys cloud i by pc_prep_key(seed, i): shift the seed per group so that
    // the key is the input's position, whatever the grouping
    pc_prep o = s->prep;
    o.seed = ssm_seed_derive(s->prep.seed, (uint64_t)s->next);
    s->group_seed = o.seed;
    if (rc == SSM_OK)
        rc = pc_set_fill(&set, &o, 0, n, load, &lc, err);
    int64_t size = set.P * set.C;
    if (rc == SSM_OK)
        rc = predict_group_alloc(g, n, n * size, err);
    if (rc == SSM_OK) {
        memcpy(g->x, set.points, (size_t)(n * size) * sizeof *g->x);
        g->shape = (ssm_input_shape){2, {set.P, set.C}};
        for (int64_t i = 0; i < n; i++)
            g->items[i] = (predict_item){.input = c->inputs[s->next + i], .start = -1};
        g->n = n;
        s->next += n;
    }
    pc_set_free(&set);
    return rc;
}

// ---- segmentation: the categories in, one row per point out ---------------------------

static ssm_code pt_before(predict_ctx *c, void *state, ssm_task *t, const predict_group *g,
                          ssm_error *err) {
    const points_state *s = state;
    if (!s->seg)
        return SSM_OK;
    return ssm_head_segment_set_categories(t->model.head, s->NC > 1 ? s->cats : NULL, g->n, err);
}

static void begin_rows(predict_ctx *c, points_state *s) {
    if (c->opt->format == PREDICT_JSON) {
        fprintf(c->out, "{\"checkpoint\":");
        predict_json_string(c->out, c->ckpt);
        fprintf(c->out, ",\"task\":\"segment\",\"predictions\":[");
    } else if (c->opt->format == PREDICT_CSV) {
        fprintf(c->out, "input,category,point,x,y,z,part,part_name,probability\n");
    }
    s->begun = 1;
}

// Cloud i's rows: each point of the file labelled as its nearest prepared point.
static ssm_code cloud_rows(predict_ctx *c, points_state *s, const ssm_task *t,
                           const predict_group *g, int64_t i, ssm_error *err) {
    const pc_cloud *raw = &s->raw[i];
    const int64_t P = s->prep.num_points, V = s->parts;
    pc_cloud smp = {0};
    SSM_TRY(pc_sample(&smp, raw, P, s->prep.sampling, pc_prep_key(s->group_seed, i), err));
    int32_t *near = malloc((size_t)raw->n * sizeof *near);
    if (!near) {
        pc_cloud_free(&smp);
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", g->items[i].input);
    }
    knn_forward(near, NULL, raw->p, raw->C, smp.p, smp.C, 1, raw->n, P, 1);
    pc_cloud_free(&smp);
    const real *lg = t->model.h_out + i * t->model.K; // [P, V]
    int32_t first = s->NC > 1 ? s->range[2 * s->category] : 0;
    int32_t count = s->NC > 1 ? s->range[2 * s->category + 1] : (int32_t)V;
    const char *cat = s->cat_names[s->category];
    char catbuf[32];
    if (!cat) {
        snprintf(catbuf, sizeof catbuf, "%d", s->category);
        cat = catbuf;
    }
    FILE *f = c->out;
    const predict_format fmt = c->opt->format;
    if (fmt == PREDICT_JSON) {
        fprintf(f, "%s{\"input\":", s->next - g->n + i > 0 ? ",\n" : "\n");
        predict_json_string(f, g->items[i].input);
        fprintf(f, ",\"category\":");
        predict_json_string(f, cat);
        fprintf(f, ",\"points\":[");
    }
    for (int64_t j = 0; j < raw->n; j++) {
        const real *row = lg + (int64_t)near[j] * V, *xyz = raw->p + j * raw->C;
        int32_t best = first;
        double mx = row[first], z = 0;
        for (int32_t v = first; v < first + count; v++)
            if (row[v] > mx) {
                mx = row[v];
                best = v;
            }
        for (int32_t v = first; v < first + count; v++)
            z += exp(row[v] - mx);
        double prob = 1 / z;
        const char *pname = s->part_names ? s->part_names[best] : NULL;
        if (fmt == PREDICT_TEXT) {
            fprintf(f, "%s\t%lld\t%.6g\t%.6g\t%.6g\t", g->items[i].input, (long long)j,
                    (double)xyz[0], (double)xyz[1], (double)xyz[2]);
            if (pname)
                fputs(pname, f);
            else
                fprintf(f, "%d", best);
            fprintf(f, c->opt->full ? "\t%.9g\n" : "\t%.4f\n", prob);
        } else if (fmt == PREDICT_CSV) {
            predict_csv_cell(f, g->items[i].input);
            fputc(',', f);
            predict_csv_cell(f, cat);
            fprintf(f, ",%lld,%.9g,%.9g,%.9g,%d,", (long long)j, (double)xyz[0], (double)xyz[1],
                    (double)xyz[2], best);
            predict_csv_cell(f, pname ? pname : "");
            fprintf(f, ",%.9g\n", prob);
        } else {
            fprintf(f, "%s{\"point\":%lld,\"x\":%.9g,\"y\":%.9g,\"z\":%.9g,\"part\":%d",
                    j ? "," : "", (long long)j, (double)xyz[0], (double)xyz[1], (double)xyz[2],
                    best);
            if (pname) {
                fprintf(f, ",\"part_name\":");
                predict_json_string(f, pname);
            }
            fprintf(f, ",\"probability\":%.9g}", prob);
        }
    }
    if (fmt == PREDICT_JSON)
        fprintf(f, "]}");
    free(near);
    return SSM_OK;
}

static ssm_code pt_after(predict_ctx *c, void *state, const ssm_task *t, const predict_group *g,
                         ssm_error *err) {
    points_state *s = state;
    if (!s->seg)
        return SSM_OK;
    if (!s->begun)
        begin_rows(c, s);
    for (int64_t i = 0; i < g->n; i++)
        SSM_TRY(cloud_rows(c, s, t, g, i, err));
    if (s->next >= c->n_inputs && c->opt->format == PREDICT_JSON)
        fprintf(c->out, "\n]}\n");
    fflush(c->out);
    return SSM_OK;
}

const predict_reader predict_reader_points = {
    .name = "points",
    .inputs = "point clouds: .txt, .xyz, .pts, .csv, .ply, .off",
    .matches = pt_matches,
    .open = pt_open,
    .next = pt_next,
    .before = pt_before,
    .after = pt_after,
    .close = pt_close,
};
