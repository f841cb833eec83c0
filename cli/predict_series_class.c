// defines: predict_reader_series (the predict reader of series classification, data.name ucr)
// Series for a model trained on the UCR/UEA archive's layout (configs/series/ucr.yaml):
//   .ts / .tsv  the archive's files as it ships them (datasets/ucr.h: labelled, missing
//               values interpolated; the labels are read and not used), every series of
//               the file a row, named by its 0-based index in the file
//   other       a plain CSV of one series (datasets/series_plain.h: a row per time step, a
//               column per channel), the whole file a row
// Each series is normalised as the training data was (data.series_norm: z-normalised over
// its own length, or standardised with the training split's data_mean.<j> / data_std.<j>),
// then made into the model's input as the evaluation's batches are (datasets/ucr_source.h):
// dense [data_lookback, data_variates], zero after the series' own length (a longer series
// is refused: the model was built for that length), or with data.pack its own patch tokens
// (data_patch_len, data_patch_stride), any length. Rows are the classify writer's (class
// probabilities, the checkpoint's class names). Groups of PREDICT_CHUNK series of one file.
#include <stdlib.h>
#include <string.h>

#include "cli/predict.h"
#include "datasets/series_augment.h"
#include "datasets/series_plain.h"
#include "datasets/ucr.h"
#include "datasets/ucr_source.h"

typedef struct {
    int64_t T, dims;         // the trained length and channels
    int pack;
    int64_t p, st, token;    // packed: patch length, stride, values per token
    double *mean, *std;      // [dims] series_norm dataset, else NULL
    ssm_series_norm norm;    // data.series_norm for this model's channels (auto resolved)
    int64_t next;            // the next input file
    ucr_set set;             // the current file's series (set.n = 0: none)
    int64_t pos;             // the next series of set
    int named;               // rows carry the series' index (the archive's files)
    const char *path;
} sc_state;

static int sc_matches(const ssm_data_config *dc) { return dc->name == SSM_DATA_UCR; }

static void sc_close(void *state) {
    sc_state *s = state;
    ucr_free(&s->set);
    free(s->mean);
    free(s->std);
    free(s);
}

static ssm_code sc_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    sc_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
    SSM_TRY(predict_meta_int(c, "data_lookback", &s->T, err));
    SSM_TRY(predict_meta_int(c, "data_variates", &s->dims, err));
    if (s->T < 1 || s->dims < 1 || s->T > 1 << 24 || s->dims > 1 << 16 || s->T * s->dims > 1 << 28)
        return ssm_fail(err, SSM_EFORMAT, "%s: data_lookback %lld, data_variates %lld: expected "
                        "a series of positive size", c->ckpt, (long long)s->T, (long long)s->dims);
    // the config builds the model: its data.pack says which input it takes
    s->pack = c->cfg->data.pack;
    if (s->pack) {
        SSM_TRY(predict_meta_int(c, "data_patch_len", &s->p, err));
        SSM_TRY(predict_meta_int(c, "data_patch_stride", &s->st, err));
        if (s->p < 1 || s->st < 1 || s->p > 1 << 20 || s->st > 1 << 20 ||
            s->p * s->dims > 1 << 28)
            return ssm_fail(err, SSM_EFORMAT, "%s: data_patch_len %lld, data_patch_stride %lld: "
                            "expected >= 1", c->ckpt, (long long)s->p, (long long)s->st);
        s->token = s->p * s->dims;
    }
    s->norm = ucr_series_norm_resolve(c->cfg->data.series_norm, s->dims);
    if (s->norm == SSM_SERIES_NORM_DATASET) {
        SSM_TRY(predict_meta_scaler(c, s->dims, &s->mean, &s->std, err));
    }
    plan->trained = s->pack ? (ssm_input_shape){1, {s->token}}
                            : (ssm_input_shape){2, {s->T, s->dims}};
    plan->ragged = s->pack;
    return SSM_OK;
}

static int is_archive(const char *path) {
    size_t n = strlen(path);
    return (n >= 4 && !strcmp(path + n - 4, ".tsv")) || (n >= 3 && !strcmp(path + n - 3, ".ts"));
}

// The next file's series into s->set, normalised.
static ssm_code load_file(predict_ctx *c, sc_state *s, ssm_error *err) {
    const char *path = c->inputs[s->next++];
    s->path = path;
    s->pos = 0;
    s->named = is_archive(path);
    if (s->named) {
        SSM_TRY(ucr_read(&s->set, path, NULL, err));
    } else {
        real *x = NULL;
        int64_t len = 0;
        SSM_TRY(series_plain_read(&x, &len, path, s->dims, err));
        s->set = (ucr_set){.n = 1, .dims = s->dims, .len = len, .x = x,
                           .lengths = malloc(sizeof(int64_t))};
        if (!s->set.lengths)
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        s->set.lengths[0] = len;
    }
    if (s->set.dims != s->dims)
        return ssm_fail(err, SSM_EDATA, "%s: series of %lld channel(s); the model takes %lld "
                        "(data_variates)", path, (long long)s->set.dims, (long long)s->dims);
    for (int64_t i = 0; i < s->set.n; i++) {
        if (s->set.lengths[i] < 1)
            return ssm_fail(err, SSM_EDATA, "%s: series %lld is empty (no value)", path,
                            (long long)i);
        if (!s->pack && s->set.lengths[i] > s->T)
            return ssm_fail(err, SSM_EDATA, "%s: series %lld has %lld steps; the model was built "
                            "for at most %lld (data_lookback; a data.pack model takes any "
                            "length)", path, (long long)i, (long long)s->set.lengths[i],
                            (long long)s->T);
    }
    if (s->norm == SSM_SERIES_NORM_SERIES)
        ucr_znorm_set(&s->set);
    else if (s->mean)
        ucr_standardize_set(&s->set, s->mean, s->std);
    return SSM_OK;
}

static ssm_code sc_next(predict_ctx *c, void *state, predict_group *g, ssm_error *err) {
    sc_state *s = state;
    while (s->pos == s->set.n) {
        ucr_free(&s->set);
        if (s->next == c->n_inputs)
            return SSM_OK;
        SSM_TRY(load_file(c, s, err));
    }
    const ucr_set *u = &s->set;
    const int64_t n = u->n - s->pos < PREDICT_CHUNK ? u->n - s->pos : PREDICT_CHUNK;
    const int64_t V = s->dims, per = u->len * V;
    int64_t values = 0;
    for (int64_t i = 0; i < n; i++)
        values += s->pack ? ucr_patch_count(u->lengths[s->pos + i], s->p, s->st) * s->token
                          : s->T * V;
    SSM_TRY(predict_group_alloc(g, n, values, err));
    g->ragged = s->pack;
    g->shape = s->pack ? (ssm_input_shape){1, {s->token}} : (ssm_input_shape){2, {s->T, V}};
    g->offsets[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t id = s->pos + i, len = u->lengths[id];
        const real *v = u->x + id * per;
        if (!s->pack) { // zero after the series' own length, as the training set's padding
            real *x = g->x + i * s->T * V;
            memset(x, 0, (size_t)(s->T * V) * sizeof *x);
            memcpy(x, v, (size_t)(len * V) * sizeof *x);
        } else { // ucr_source's tokens: the last token repeats the last value past the end
            const int64_t P = ucr_patch_count(len, s->p, s->st);
            real *x = g->x + g->offsets[i] * s->token;
            for (int64_t k = 0; k < P; k++)
                for (int64_t j = 0; j < s->p; j++) {
                    const int64_t t = k * s->st + j < len ? k * s->st + j : len - 1;
                    memcpy(x + (k * s->p + j) * V, v + t * V, (size_t)V * sizeof *x);
                }
            g->offsets[i + 1] = g->offsets[i] + P;
        }
        g->items[i] = (predict_item){.input = s->path, .start = -1};
        if (s->named)
            snprintf(g->items[i].sample, sizeof g->items[i].sample, "%lld", (long long)id);
    }
    s->pos += n;
    g->n = n;
    return SSM_OK;
}

const predict_reader predict_reader_series = {
    .name = "series",
    .inputs = "series: UCR/UEA .ts / .tsv files, plain CSVs of one series",
    .matches = sc_matches,
    .open = sc_open,
    .next = sc_next,
    .close = sc_close,
};
