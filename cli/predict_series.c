// defines: predict_reader_forecast (the predict reader of the forecasting recipes)
// A CSV in the training data's layout (datasets/series_csv.h: a first column of times,
// then variates, a header naming them) per input. The model's input columns are found by
// name (data_columns; the file may hold others, in any order), the history is the last
// data_lookback rows (--at ROW: the rows ending at data row ROW), standardised with the
// training split's scaler (data_mean.<j>, data_std.<j>) as the evaluation's windows are.
// The model's output (RevIN already undone by the forecast head: the dataset's scale) is
// brought back to the data's units with the target columns' scaler, and written per input
// as a block of rows, one per future step, the target columns named and ordered as in the
// input; the first column is the future time, extrapolated from the history's first column
// (datasets/series_stamps.h: timestamps or an integer index, in the input's own layout),
// or `step` 1..horizon when that column is not time (or with --no-dates). Task regress
// (the target at the horizon's last step) writes one row, at step horizon.
//   csv, text  per input a header and the rows; blocks separated by one empty line
//   json       {"checkpoint", "task", "horizon", "forecasts": [{"input", "history_end_row",
//              "time_column" (null: numbered), "columns", "times" | "steps", "values":
//              [[step 1's columns], ...]}]}
// docs/predict.md ("Forecasts").
#include <stdlib.h>
#include <string.h>

#include "cli/predict.h"
#include "datasets/series_csv.h"
#include "datasets/series_stamps.h"
#include "datasets/series_time.h"

typedef struct {
    char *time_name;      // the input's first column header (NULL: numbered steps)
    series_stamps st;
    int64_t end_row;      // 1-based data row the history ends at
} fc_sample;

typedef struct {
    int64_t L, V, H, Vout;  // lookback, input columns, horizon, target columns
    int64_t F;              // calendar features before the columns (data_time_features), or 0
    char *cols_buf;
    char **cols;            // [V] the model's input columns, in its order
    double *mean, *std;     // [V] the training split's scaler
    double *out_std;        // [Vout]
    int64_t next;           // the next input
    fc_sample smp[PREDICT_CHUNK];
    int64_t *order;         // [PREDICT_CHUNK, Vout] sample b's k-th written column: a target
    int blocks;             // blocks written
} fc_state;

static int fc_matches(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_ETT || dc->name == SSM_DATA_CSV;
}

static void fc_clear(fc_state *s) {
    for (int i = 0; i < PREDICT_CHUNK; i++) {
        free(s->smp[i].time_name);
        s->smp[i].time_name = NULL;
    }
}

static void fc_close(void *state) {
    fc_state *s = state;
    fc_clear(s);
    free(s->cols_buf);
    free(s->cols);
    free(s->mean);
    free(s->std);
    free(s->out_std);
    free(s->order);
    free(s);
}

static ssm_code fc_columns(predict_ctx *c, fc_state *s, ssm_error *err) {
    const char *names = predict_meta(c, "data_columns", err);
    if (!names)
        return err->code;
    if (!(s->cols_buf = strdup(names)) || !(s->cols = calloc((size_t)s->V, sizeof *s->cols)))
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    int64_t n = 0;
    for (char *p = s->cols_buf; p; n++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (n < s->V)
            s->cols[n] = p;
        p = nl ? nl + 1 : NULL;
    }
    if (n != s->V)
        return ssm_fail(err, SSM_EFORMAT, "%s: metadata data_columns names %lld columns, "
                        "data_variates says %lld", c->ckpt, (long long)n, (long long)s->V);
    return SSM_OK;
}

static ssm_code fc_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    fc_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
    SSM_TRY(predict_meta_int(c, "data_lookback", &s->L, err));
    SSM_TRY(predict_meta_int(c, "data_variates", &s->V, err));
    SSM_TRY(predict_meta_int(c, "data_horizon", &s->H, err));
    SSM_TRY(predict_meta_int(c, "data_out_variates", &s->Vout, err));
    // a checkpoint from before calendar tokens has no key: the config says
    if (ssm_metadata_get(&c->meta, "data_time_features"))
        SSM_TRY(predict_meta_int(c, "data_time_features", &s->F, err));
    else
        s->F = c->cfg->data.time_features ? SERIES_TIME_FEATURES : 0;
    if (s->F != 0 && s->F != SERIES_TIME_FEATURES)
        return ssm_fail(err, SSM_EFORMAT, "%s: metadata data_time_features = %lld, expected 0 "
                        "or %d", c->ckpt, (long long)s->F, SERIES_TIME_FEATURES);
    // bounds before L * V and the arrays below are sized
    if (s->L < 1 || s->V < 1 || s->H < 1 || s->Vout < 1 || s->Vout > s->V || s->L > 1 << 24 ||
        s->V > 1 << 20 || s->H > 1 << 24 || s->L * s->V > 1 << 28)
        return ssm_fail(err, SSM_EFORMAT, "%s: data_lookback %lld, data_variates %lld, "
                        "data_horizon %lld, data_out_variates %lld: expected positive sizes, "
                        "targets <= variates", c->ckpt, (long long)s->L, (long long)s->V,
                        (long long)s->H, (long long)s->Vout);
    SSM_TRY(fc_columns(c, s, err));
    SSM_TRY(predict_meta_scaler(c, s->V, &s->mean, &s->std, err));
    s->out_std = malloc((size_t)s->Vout * sizeof *s->out_std);
    s->order = malloc((size_t)PREDICT_CHUNK * (size_t)s->Vout * sizeof *s->order);
    if (!s->out_std || !s->order)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t k = 0; k < s->Vout; k++)
        s->out_std[k] = s->std[s->V - s->Vout + k];
    plan->trained = (ssm_input_shape){2, {s->L, s->F + s->V}};
    plan->time_features = s->F;
    plan->horizon = s->H;
    plan->out_vars = s->Vout;
    plan->out_std = s->out_std;
    return SSM_OK;
}

// The model's columns in the file (idx [V]); every missing one named.
static ssm_code find_columns(const fc_state *s, const series_table *t, const char *path,
                             int64_t *idx, ssm_error *err) {
    char missing[768] = "";
    size_t used = 0;
    int64_t n_missing = 0;
    for (int64_t j = 0; j < s->V; j++) {
        idx[j] = series_table_find(t, s->cols[j]);
        if (idx[j] < 0 && used < sizeof missing)
            used += (size_t)snprintf(missing + used, sizeof missing - used, "%s'%s'",
                                     n_missing ? ", " : "", s->cols[j]);
        n_missing += idx[j] < 0;
    }
    if (n_missing)
        return ssm_fail(err, SSM_EDATA, "%s: missing column%s %s; the model reads %lld columns "
                        "by name (the checkpoint's data_columns)", path, n_missing > 1 ? "s" : "",
                        missing, (long long)s->V);
    return SSM_OK;
}

// Sample b of the group from the table: x, the written columns' order, the time column.
static ssm_code take_window(predict_ctx *c, fc_state *s, const series_table *t, const char *path,
                            real *x, int64_t b, ssm_error *err) {
    int64_t *idx = malloc((size_t)s->V * sizeof *idx);
    if (!idx)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_code rc = find_columns(s, t, path, idx, err);
    const int64_t end = c->opt->at > 0 ? c->opt->at : t->rows;
    if (rc == SSM_OK && end > t->rows)
        rc = ssm_fail(err, SSM_EINVAL, "%s: --at %lld: the file has %lld data rows", path,
                      (long long)end, (long long)t->rows);
    else if (rc == SSM_OK && end < s->L)
        rc = ssm_fail(err, SSM_EDATA, "%s: %lld data rows%s; the model forecasts from the last "
                      "%lld (data_lookback): give at least %lld", path, (long long)end,
                      c->opt->at > 0 ? " up to --at" : "", (long long)s->L, (long long)s->L);
    // as the dataset makes its windows (datasets/series_split.c): each row's calendar
    // features first (a model trained with data.time_features), then the columns
    // standardised in double, then float
    const int64_t X = s->F + s->V;
    for (int64_t r = 0; rc == SSM_OK && r < s->L; r++) {
        const int64_t row = end - s->L + r;
        if (s->F) {
            series_date dt;
            double f[SERIES_TIME_FEATURES];
            rc = t->dates ? series_date_parse(&dt, t->dates[row], err)
                          : ssm_fail(err, SSM_EDATA, "no time column");
            if (rc != SSM_OK) { // data row r is line r + 2 (the header is line 1)
                ssm_error_prefix(err, "%s:%lld: column 1 ('%s'): the model reads calendar "
                                 "features of each row's date (data.time_features): ", path,
                                 (long long)(row + 2), t->date_name ? t->date_name : "");
                break;
            }
            series_time_features(f, &dt);
            for (int64_t k = 0; k < s->F; k++)
                x[r * X + k] = (real)f[k];
        }
        for (int64_t j = 0; j < s->V; j++)
            x[r * X + s->F + j] =
                (real)((t->values[row * t->vars + idx[j]] - s->mean[j]) / s->std[j]);
    }
    // the targets in the file's order (insertion sort: a handful of columns)
    int64_t *ord = s->order + b * s->Vout;
    for (int64_t k = 0; rc == SSM_OK && k < s->Vout; k++) {
        int64_t i = k;
        for (; i > 0 && idx[s->V - s->Vout + ord[i - 1]] > idx[s->V - s->Vout + k]; i--)
            ord[i] = ord[i - 1];
        ord[i] = k;
    }
    fc_sample *sm = &s->smp[b];
    sm->end_row = end;
    memset(&sm->st, 0, sizeof sm->st);
    if (rc == SSM_OK && !c->opt->no_dates) {
        // the window's times, and the row before a one-row window (a step needs two)
        const int64_t first = end - s->L - (s->L == 1 && end > 1);
        int64_t bad = -1;
        rc = series_stamps_infer(&sm->st, (const char *const *)t->dates + first, end - first,
                                 &bad, err);
        if (rc == SSM_EDATA) // data row r is line r + 2 (the header is line 1)
            ssm_error_prefix(err, "%s:%lld: column 1 ('%s'): ", path,
                             (long long)(first + bad + 2), t->date_name);
        if (rc == SSM_EDATA)
            snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                     "; --no-dates numbers the future steps instead");
    }
    if (rc == SSM_OK && sm->st.kind != SERIES_STAMP_NONE && !(sm->time_name = strdup(t->date_name)))
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    free(idx);
    return rc;
}

static ssm_code fc_next(predict_ctx *c, void *state, predict_group *g, ssm_error *err) {
    fc_state *s = state;
    fc_clear(s);
    int64_t n = c->n_inputs - s->next < PREDICT_CHUNK ? c->n_inputs - s->next : PREDICT_CHUNK;
    if (n <= 0)
        return SSM_OK;
    const int64_t size = s->L * (s->F + s->V);
    SSM_TRY(predict_group_alloc(g, n, n * size, err));
    g->shape = (ssm_input_shape){2, {s->L, s->F + s->V}};
    for (int64_t i = 0; i < n; i++) {
        const char *path = c->inputs[s->next + i];
        series_table t;
        SSM_TRY(series_csv_read(&t, path, err));
        ssm_code rc = take_window(c, s, &t, path, g->x + i * size, i, err);
        series_table_free(&t);
        SSM_TRY(rc);
        g->items[i] = (predict_item){.input = path, .start = -1};
    }
    s->next += n;
    g->n = n;
    return SSM_OK;
}

// The future step of output row r: forecast rows are steps 1..H, regress's one row step H.
static int64_t step_of(const fc_state *s, int64_t rows, int64_t r) {
    return rows == s->H ? r + 1 : s->H;
}

static void write_block(predict_ctx *c, fc_state *s, int64_t b, const predict_item *it,
                        const real *out, int64_t rows) {
    FILE *f = c->out;
    const fc_sample *sm = &s->smp[b];
    const int64_t *ord = s->order + b * s->Vout;
    const int json = c->opt->format == PREDICT_JSON;
    char stamp[SERIES_STAMP_MAX];
    if (json) {
        fprintf(f, "%s{\"input\":", s->blocks ? ",\n" : "\n");
        predict_json_string(f, it->input);
        fprintf(f, ",\"history_end_row\":%lld,\"time_column\":", (long long)sm->end_row);
        if (sm->time_name)
            predict_json_string(f, sm->time_name);
        else
            fputs("null", f);
        fputs(",\"columns\":[", f);
        for (int64_t k = 0; k < s->Vout; k++) {
            fputs(k ? "," : "", f);
            predict_json_string(f, s->cols[s->V - s->Vout + ord[k]]);
        }
        fprintf(f, "],\"%s\":[", sm->time_name ? "times" : "steps");
        for (int64_t r = 0; r < rows; r++) {
            fputs(r ? "," : "", f);
            if (sm->time_name) {
                series_stamps_format(&sm->st, step_of(s, rows, r), stamp, sizeof stamp);
                predict_json_string(f, stamp);
            } else {
                fprintf(f, "%lld", (long long)step_of(s, rows, r));
            }
        }
        fputs("],\"values\":[", f);
    } else {
        if (s->blocks)
            fputc('\n', f);
        predict_csv_cell(f, sm->time_name ? sm->time_name : "step");
        for (int64_t k = 0; k < s->Vout; k++) {
            fputc(',', f);
            predict_csv_cell(f, s->cols[s->V - s->Vout + ord[k]]);
        }
        fputc('\n', f);
    }
    for (int64_t r = 0; r < rows; r++) {
        if (json) {
            fputs(r ? ",[" : "[", f);
        } else if (sm->time_name) {
            series_stamps_format(&sm->st, step_of(s, rows, r), stamp, sizeof stamp);
            predict_csv_cell(f, stamp);
        } else {
            fprintf(f, "%lld", (long long)step_of(s, rows, r));
        }
        for (int64_t k = 0; k < s->Vout; k++) {
            const int64_t j = ord[k], col = s->V - s->Vout + j;
            // the dataset's scale back to the data's units (series_inverse_transform)
            double v = (double)out[r * s->Vout + j] * s->std[col] + s->mean[col];
            fprintf(f, json && !k ? "%.9g" : ",%.9g", v);
        }
        fputs(json ? "]" : "\n", f);
    }
    if (json)
        fputs("]}", f);
    s->blocks++;
}

static ssm_code fc_write(predict_ctx *c, void *state, const ssm_task *t, const predict_group *g,
                         const real *out, ssm_error *err) {
    fc_state *s = state;
    const int64_t K = t->model.K, rows = K / s->Vout;
    if (K % s->Vout || (rows != s->H && rows != 1))
        return ssm_fail(err, SSM_ECONFIG, "task.name %s: %lld outputs per window; predict writes "
                        "forecasts (data_horizon %lld x %lld targets) or one value per target "
                        "(regress)", t->vt->name, (long long)K, (long long)s->H,
                        (long long)s->Vout);
    // every future time first: one past the year 9999 fails before anything is written
    char stamp[SERIES_STAMP_MAX];
    for (int64_t b = 0; b < g->n; b++)
        for (int64_t r = 0; s->smp[b].time_name && r < rows; r++)
            if (series_stamps_format(&s->smp[b].st, step_of(s, rows, r), stamp, sizeof stamp))
                return ssm_fail(err, SSM_EDATA, "%s: step %lld after the history is past the "
                                "year 9999 (or the index's range); --no-dates numbers the steps",
                                g->items[b].input, (long long)step_of(s, rows, r));
    if (c->opt->format == PREDICT_JSON && !s->blocks) {
        fputs("{\"checkpoint\":", c->out);
        predict_json_string(c->out, c->ckpt);
        fputs(",\"task\":", c->out);
        predict_json_string(c->out, t->vt->name);
        fprintf(c->out, ",\"horizon\":%lld,\"forecasts\":[", (long long)s->H);
    }
    for (int64_t b = 0; b < g->n; b++)
        write_block(c, s, b, &g->items[b], out + b * K, rows);
    return ferror(c->out) ? ssm_fail(err, SSM_EIO, "writing the forecasts failed") : SSM_OK;
}

static void fc_finish(predict_ctx *c, void *state) {
    if (c->opt->format == PREDICT_JSON)
        fputs("\n]}\n", c->out);
}

const predict_reader predict_reader_forecast = {
    .name = "forecast",
    .inputs = "CSV series in the training data's layout",
    .matches = fc_matches,
    .open = fc_open,
    .next = fc_next,
    .write = fc_write,
    .finish = fc_finish,
    .close = fc_close,
};
