// defines: the metrics.jsonl writer (see runlog.h)
#include "tasks/runlog.h"

#include <errno.h>
#include <math.h>
#include <string.h>

ssm_code runlog_open(runlog *r, const char *path, ssm_error *err) {
    r->f = fopen(path, "a");
    if (!r->f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
    r->first = 1;
    return SSM_OK;
}

void json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void key(runlog *r, const char *k) {
    if (!r->first)
        fputc(',', r->f);
    r->first = 0;
    json_write_string(r->f, k);
    fputc(':', r->f);
}

void runlog_begin(runlog *r) {
    r->first = 1;
    fputc('{', r->f);
}
void runlog_int(runlog *r, const char *k, int64_t v) {
    key(r, k);
    fprintf(r->f, "%lld", (long long)v);
}
void runlog_num(runlog *r, const char *k, double v) {
    key(r, k);
    if (isfinite(v))
        fprintf(r->f, "%.9g", v);
    else
        fputs("null", r->f);
}
void runlog_str(runlog *r, const char *k, const char *v) {
    key(r, k);
    json_write_string(r->f, v);
}
void runlog_end(runlog *r) {
    fputs("}\n", r->f);
    fflush(r->f);
}
void runlog_close(runlog *r) {
    if (r->f)
        fclose(r->f);
    r->f = NULL;
}
