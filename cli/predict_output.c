// defines: predict_writer_begin, predict_writer_row, predict_writer_end, predict_json_string,
//          predict_csv_cell (see predict.h)
// The three forms of predict's output, one row per sample:
//   text  tab-separated: the input (":sample" for a bag of a multi-bag file), the window's
//         start and end in seconds (audio --window), then the top K classes with their
//         probabilities (4 decimals; --full: 9 significant digits), or for a task without
//         classes the task's own line (forecast: the values)
//   json  one document: {"checkpoint", "task", "classes", "predictions": [{"input",
//         "sample", "start", "end", "instances", "predicted", "probabilities": [...]}]}
//         (keys that do not apply are left out; "outputs" for a task without classes)
//   csv   a header, then input,sample,start,end,instances,predicted,prob_<class>... (or
//         out_<k>...); empty cells where a column does not apply
// JSON and CSV print every number with 9 significant digits (%.9g), enough to read back
// the float the model computed exactly. Probabilities are the softmax, in double, of the
// logits of the tasks whose outputs are class logits (classify, mil).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/predict.h"

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

// A CSV cell: quoted when it holds a comma, a quote or a line break.
static void csv_cell(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void predict_json_string(FILE *f, const char *s) { json_string(f, s); }
void predict_csv_cell(FILE *f, const char *s) { csv_cell(f, s); }

static const char *class_name(const predict_writer *w, int64_t v, char *buf, size_t n) {
    if (w->class_names && w->class_names[v])
        return w->class_names[v];
    snprintf(buf, n, "%lld", (long long)v);
    return buf;
}

void predict_writer_begin(predict_writer *w, FILE *f, const predict_opts *opt, const ssm_task *t,
                          const char *const *class_names, const char *ckpt, int timed) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->opt = opt;
    w->task = t;
    w->timed = timed;
    w->probs = !strcmp(t->vt->name, "classify") || !strcmp(t->vt->name, "mil");
    w->V = t->model.K;
    w->class_names = class_names;
    char buf[32];
    if (opt->format == PREDICT_JSON) {
        fprintf(f, "{\"checkpoint\":");
        json_string(f, ckpt);
        fprintf(f, ",\"task\":");
        json_string(f, t->vt->name);
        if (w->probs) {
            fprintf(f, ",\"classes\":[");
            for (int64_t v = 0; v < w->V; v++) {
                fputs(v ? "," : "", f);
                json_string(f, class_name(w, v, buf, sizeof buf));
            }
            fputc(']', f);
        }
        fprintf(f, ",\"predictions\":[");
    } else if (opt->format == PREDICT_CSV) {
        fprintf(f, "input,sample,start,end,instances%s", w->probs ? ",predicted" : "");
        for (int64_t v = 0; v < w->V; v++) {
            fputc(',', f);
            if (w->probs) {
                fputs("prob_", f);
                csv_cell(f, class_name(w, v, buf, sizeof buf));
            } else {
                fprintf(f, "out_%lld", (long long)v);
            }
        }
        fputc('\n', f);
    }
}

// p [V] = softmax(out) in double; returns the argmax.
static int64_t softmax(double *p, const real *out, int64_t V) {
    double mx = -INFINITY, z = 0;
    int64_t best = 0;
    for (int64_t v = 0; v < V; v++) {
        mx = fmax(mx, out[v]);
        if (out[v] > out[best])
            best = v;
    }
    for (int64_t v = 0; v < V; v++)
        z += p[v] = exp(out[v] - mx);
    for (int64_t v = 0; v < V; v++)
        p[v] /= z;
    return best;
}

static void text_row(predict_writer *w, const predict_item *it, const real *out,
                     const double *p) {
    FILE *f = w->f;
    fputs(it->input, f);
    if (it->sample[0])
        fprintf(f, ":%s", it->sample);
    if (it->start >= 0)
        fprintf(f, "\t%.3f\t%.3f", it->start, it->end);
    if (!w->probs) {
        w->task->vt->predict_line(w->task, f, out, w->opt->top);
        fputc('\n', f);
        return;
    }
    char buf[32];
    unsigned char *used = calloc((size_t)w->V, 1);
    for (int k = 0; used && k < w->opt->top && k < w->V; k++) {
        int64_t best = -1;
        for (int64_t v = 0; v < w->V; v++)
            if (!used[v] && (best < 0 || p[v] > p[best]))
                best = v;
        used[best] = 1;
        fprintf(f, w->opt->full ? "\t%s %.9g" : "\t%s %.4f", class_name(w, best, buf, sizeof buf),
                p[best]);
    }
    free(used);
    fputc('\n', f);
}

void predict_writer_row(predict_writer *w, const predict_item *it, const real *out) {
    FILE *f = w->f;
    double *p = w->probs ? malloc((size_t)w->V * sizeof *p) : NULL;
    int64_t best = p ? softmax(p, out, w->V) : 0;
    char buf[32];
    if (w->opt->format == PREDICT_TEXT) {
        text_row(w, it, out, p);
    } else if (w->opt->format == PREDICT_JSON) {
        fprintf(f, "%s{\"input\":", w->rows ? ",\n" : "\n");
        json_string(f, it->input);
        if (it->sample[0]) {
            fprintf(f, ",\"sample\":");
            json_string(f, it->sample);
        }
        if (it->start >= 0)
            fprintf(f, ",\"start\":%.9g,\"end\":%.9g", it->start, it->end);
        if (it->tokens > 0)
            fprintf(f, ",\"instances\":%lld", (long long)it->tokens);
        if (p) {
            fprintf(f, ",\"predicted\":");
            json_string(f, class_name(w, best, buf, sizeof buf));
        }
        fprintf(f, ",\"%s\":[", p ? "probabilities" : "outputs");
        for (int64_t v = 0; v < w->V; v++)
            fprintf(f, v ? ",%.9g" : "%.9g", p ? p[v] : (double)out[v]);
        fprintf(f, "]}");
    } else {
        csv_cell(f, it->input);
        fputc(',', f);
        csv_cell(f, it->sample);
        if (it->start >= 0)
            fprintf(f, ",%.9g,%.9g", it->start, it->end);
        else
            fputs(",,", f);
        if (it->tokens > 0)
            fprintf(f, ",%lld", (long long)it->tokens);
        else
            fputc(',', f);
        if (p) {
            fputc(',', f);
            csv_cell(f, class_name(w, best, buf, sizeof buf));
        }
        for (int64_t v = 0; v < w->V; v++)
            fprintf(f, ",%.9g", p ? p[v] : (double)out[v]);
        fputc('\n', f);
    }
    free(p);
    w->rows++;
}

void predict_writer_end(predict_writer *w) {
    if (w->opt->format == PREDICT_JSON)
        fprintf(w->f, "\n]}\n");
}
