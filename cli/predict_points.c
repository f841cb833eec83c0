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
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/predict.h"
#include "core/rng.h"
#include "datasets/pc_data.h"
#include "datasets/pc_modelnet.h"
#include "datasets/pc_set.h"

typedef struct {
    pc_prep prep;
    int64_t next;
} points_state;

typedef struct {
    const char *const *paths;
    int64_t mesh_points;
} load_ctx;

static int pt_matches(const ssm_data_config *dc) { return pc_data_is_points(dc); }

static ssm_code pt_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    points_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
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

// Cloud i: a mesh's surface samples, or a point file's points.
static ssm_code load(void *vctx, int64_t i, uint64_t key, pc_cloud *raw, ssm_error *err) {
    const load_ctx *c = vctx;
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
    load_ctx lc = {c->inputs + s->next, PC_OFF_OVERSAMPLE * s->prep.num_points};
    // pc_set_fill keys cloud i by pc_prep_key(seed, i): shift the seed per group so that
    // the key is the input's position, whatever the grouping
    pc_prep o = s->prep;
    o.seed = ssm_seed_derive(s->prep.seed, (uint64_t)s->next);
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

const predict_reader predict_reader_points = {
    .name = "points",
    .inputs = "point clouds: .txt, .xyz, .pts, .csv, .ply, .off",
    .matches = pt_matches,
    .open = pt_open,
    .next = pt_next,
    .close = free,
};
