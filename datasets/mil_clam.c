// defines: mil_clam_open, mil_clam_open_files, mil_clam_h5_path, mil_h5_lock, mil_h5_unlock
//          (see mil_clam.h)
#include "datasets/mil_clam.h"

#include <hdf5.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_text.h"

enum { BLOCK_ROWS = 1024 }; // rows read per libhdf5 call: bounds the scratch buffer

static pthread_mutex_t h5_mu = PTHREAD_MUTEX_INITIALIZER;
static int h5_quiet;

void mil_h5_lock(void) {
    pthread_mutex_lock(&h5_mu);
    if (!h5_quiet) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        h5_quiet = 1;
    }
}

void mil_h5_unlock(void) { pthread_mutex_unlock(&h5_mu); }

void mil_clam_h5_path(char *out, size_t n, const char *features_dir, const char *slide) {
    snprintf(out, n, "%s/h5_files/%s.h5", features_dir, slide);
}

typedef struct {
    char dir[512];    // features_dir
    int has_witness;
    int by_path;      // bag names are the files' paths (mil_clam_open_files)
} clam_impl;

// ---- h5 files --------------------------------------------------------------------

// An open slide file and its datasets (-1 = not open).
typedef struct {
    hid_t file, feat, coords, witness;
    hsize_t rows;
} slide_file;

static void slide_close(slide_file *f) {
    if (f->witness >= 0)
        H5Dclose(f->witness);
    if (f->coords >= 0)
        H5Dclose(f->coords);
    if (f->feat >= 0)
        H5Dclose(f->feat);
    if (f->file >= 0)
        H5Fclose(f->file);
    f->file = f->feat = f->coords = f->witness = -1;
}

// Checks dataset `name` of the slide: rank, the class of its type, dims[1] == cols (cols 0:
// rank 1; cols < 0: any width, returned in *width) and dims[0] == rows (rows 0: any,
// returned). Under the lock.
static ssm_code check_dataset(hid_t d, const char *name, H5T_class_t want, int64_t cols,
                              hsize_t *rows, int64_t *width, const char *slide, const char *path,
                              ssm_error *err) {
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dims[2] = {0, 0};
    if (rank >= 1 && rank <= 2)
        H5Sget_simple_extent_dims(space, dims, NULL);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    const char *kind = want == H5T_FLOAT ? "floating-point" : "integer";
    if (cls != want)
        return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: dataset '%s' is not %s (HDF5 class %d,"
                        " %zu bytes)", slide, path, name, kind, (int)cls, size);
    int want_rank = cols == 0 ? 1 : 2;
    if (rank != want_rank)
        return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: dataset '%s' has rank %d, expected %d",
                        slide, path, name, rank, want_rank);
    if (cols > 0 && (int64_t)dims[1] != cols)
        return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: dataset '%s' is [%llu, %llu], expected"
                        " [N, %" PRId64 "]", slide, path, name, (unsigned long long)dims[0],
                        (unsigned long long)dims[1], cols);
    if (cols < 0)
        *width = (int64_t)dims[1];
    if (*rows && dims[0] != *rows)
        return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: dataset '%s' has %llu rows, 'features'"
                        " %llu", slide, path, name, (unsigned long long)dims[0],
                        (unsigned long long)*rows);
    *rows = dims[0];
    return SSM_OK;
}

// Opens the slide's file and datasets, checking their shapes. Under the lock.
// F < 0: learn the feature width into *F_out. witness: -1 probe (absent is fine), 0 skip,
// 1 required.
static ssm_code slide_open(slide_file *f, const char *path, const char *slide, int64_t F,
                           int64_t *F_out, int coords, int witness, ssm_error *err) {
    f->file = f->feat = f->coords = f->witness = -1;
    f->rows = 0;
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0)
        return ssm_fail(err, SSM_EIO, "slide '%s': %s: cannot open (missing, or not an HDF5 file)",
                        slide, path);
    if (H5Lexists(f->file, "features", H5P_DEFAULT) <= 0 ||
        (f->feat = H5Dopen2(f->file, "features", H5P_DEFAULT)) < 0)
        return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: no dataset 'features' (CLAM's [N, D] "
                        "patch features)", slide, path);
    int64_t width = F;
    SSM_TRY(check_dataset(f->feat, "features", H5T_FLOAT, F, &f->rows, &width, slide, path, err));
    if (F_out)
        *F_out = width;
    if (f->rows < 1 || width < 1)
        return ssm_fail(err, SSM_EDATA, "slide '%s': %s: 'features' is [%llu, %" PRId64
                        "]: expected at least one patch and one feature", slide, path,
                        (unsigned long long)f->rows, width);
    if (coords) {
        if (H5Lexists(f->file, "coords", H5P_DEFAULT) <= 0 ||
            (f->coords = H5Dopen2(f->file, "coords", H5P_DEFAULT)) < 0)
            return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: no dataset 'coords' (data.coords "
                            "needs the [N, 2] patch coordinates)", slide, path);
        SSM_TRY(check_dataset(f->coords, "coords", H5T_INTEGER, 2, &f->rows, NULL, slide, path,
                              err));
    }
    if (witness) {
        int has = H5Lexists(f->file, "witness", H5P_DEFAULT) > 0;
        if (!has && witness > 0)
            return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: no dataset 'witness' (the first "
                            "slide has one: every slide needs it)", slide, path);
        if (has) {
            if ((f->witness = H5Dopen2(f->file, "witness", H5P_DEFAULT)) < 0)
                return ssm_fail(err, SSM_EFORMAT, "slide '%s': %s: cannot open 'witness'", slide,
                                path);
            SSM_TRY(check_dataset(f->witness, "witness", H5T_INTEGER, 0, &f->rows, NULL, slide,
                                  path, err));
        }
    }
    return SSM_OK;
}

// Rows [r0, r0 + nr) of dataset d ([rows, cols], or [rows] when cols == 0) into buf as mem_type.
static int read_rows(hid_t d, hid_t mem_type, hsize_t r0, hsize_t nr, hsize_t cols, void *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {r0, 0}, count[2] = {nr, cols};
    int rank = cols ? 2 : 1;
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int ok = fs >= 0 && ms >= 0 &&
             H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dread(d, mem_type, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return ok;
}

static ssm_code clam_read(const mil_bags *s, int64_t bag, const int64_t *rows, int64_t k, real *x,
                          int32_t *inst_y, ssm_error *err) {
    const clam_impl *im = s->impl;
    char path[1200];
    if (im->by_path)
        snprintf(path, sizeof path, "%s", s->names[bag]);
    else
        mil_clam_h5_path(path, sizeof path, im->dir, s->names[bag]);
    int64_t F = s->F, T = s->token;
    float *fb = malloc((size_t)(BLOCK_ROWS * F) * sizeof *fb);
    int64_t *cb = malloc((size_t)BLOCK_ROWS * 2 * sizeof *cb);
    int32_t *wb = malloc((size_t)BLOCK_ROWS * sizeof *wb);
    if (!fb || !cb || !wb) {
        free(fb);
        free(cb);
        free(wb);
        return ssm_fail(err, SSM_ENOMEM, "slide '%s': out of memory", s->names[bag]);
    }
    mil_h5_lock();
    slide_file f;
    ssm_code rc = slide_open(&f, path, s->names[bag], F, NULL, s->has_coords,
                             inst_y && im->has_witness, err);
    int64_t last = k > 0 ? (rows ? rows[k - 1] : k - 1) : 0;
    if (rc == SSM_OK && (hsize_t)last >= f.rows)
        rc = ssm_fail(err, SSM_EDATA, "slide '%s': %s: %llu patches, row %" PRId64 " asked (the "
                      "file changed since it was opened?)", s->names[bag], path,
                      (unsigned long long)f.rows, last);
    // Blocks of at most BLOCK_ROWS file rows, each from the next wanted row to the last
    // wanted row below its end: a crop reads only the blocks it touches.
    for (int64_t t = 0; t < k && rc == SSM_OK;) {
        int64_t r0 = rows ? rows[t] : t, t2 = t;
        while (t2 < k && (rows ? rows[t2] : t2) < r0 + BLOCK_ROWS)
            t2++;
        int64_t r1 = rows ? rows[t2 - 1] : t2 - 1, nr = r1 - r0 + 1;
        if (!read_rows(f.feat, H5T_NATIVE_FLOAT, (hsize_t)r0, (hsize_t)nr, (hsize_t)F, fb) ||
            (f.coords >= 0 &&
             !read_rows(f.coords, H5T_NATIVE_INT64, (hsize_t)r0, (hsize_t)nr, 2, cb)) ||
            (f.witness >= 0 &&
             !read_rows(f.witness, H5T_NATIVE_INT32, (hsize_t)r0, (hsize_t)nr, 0, wb))) {
            rc = ssm_fail(err, SSM_EIO, "slide '%s': %s: reading patches %" PRId64 "..%" PRId64
                          " failed (a corrupt or truncated file?)", s->names[bag], path, r0, r1);
            break;
        }
        for (; t < t2; t++) {
            int64_t i = (rows ? rows[t] : t) - r0;
            for (int64_t j = 0; j < F; j++)
                x[t * T + j] = (real)fb[i * F + j];
            if (s->has_coords) {
                x[t * T + F] = (real)cb[2 * i];
                x[t * T + F + 1] = (real)cb[2 * i + 1];
            }
            if (inst_y)
                inst_y[t] = f.witness >= 0 ? wb[i] : -1;
        }
    }
    slide_close(&f);
    mil_h5_unlock();
    free(fb);
    free(cb);
    free(wb);
    return rc;
}

// ---- the dataset CSV --------------------------------------------------------------

typedef struct {
    char **slide, **label; // [rows]
    int64_t *line;         // [rows] CSV line of each slide
    int64_t rows, cap;
} csv_rows;

static void csv_rows_free(csv_rows *c) {
    for (int64_t i = 0; i < c->rows; i++) {
        free(c->slide[i]);
        free(c->label[i]);
    }
    free(c->slide);
    free(c->label);
    free(c->line);
}

static ssm_code read_csv(csv_rows *c, const char *path, ssm_error *err) {
    series_text txt;
    SSM_TRY(series_text_read(&txt, path, err));
    series_lines it;
    series_lines_init(&it, &txt);
    const char *line, *cell;
    size_t n, len;
    int ncols = 0, col_slide = -1, col_label = -1, col_case = -1;
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK && series_next_line(&it, &line, &n)) {
        const char *p = line, *end = line + n;
        int fields = 1;
        for (size_t i = 0; i < n; i++)
            fields += line[i] == ',';
        if (!ncols) {
            for (int col = 0; col < fields; col++) {
                series_next_cell(&p, end, &cell, &len);
                if (len == 8 && !memcmp(cell, "slide_id", 8))
                    col_slide = col;
                else if (len == 5 && !memcmp(cell, "label", 5))
                    col_label = col;
                else if (len == 7 && !memcmp(cell, "case_id", 7))
                    col_case = col;
            }
            ncols = fields;
            if (col_slide < 0 || col_label < 0 || col_case < 0)
                rc = ssm_fail(err, SSM_EFORMAT, "%s: line 1: the header must name the columns "
                              "case_id, slide_id and label (CLAM's dataset CSV)", path);
            continue;
        }
        const char *t = line;
        size_t tn = n;
        series_trim(&t, &tn);
        if (!tn)
            continue; // a blank line
        if (fields != ncols) {
            rc = ssm_fail(err, SSM_EFORMAT, "%s: line %" PRId64 ": %d fields, the header has %d",
                          path, it.lineno, fields, ncols);
            break;
        }
        if (c->rows == c->cap) {
            int64_t cap = c->cap ? 2 * c->cap : 256;
            char **sl = realloc(c->slide, (size_t)cap * sizeof *sl);
            if (sl)
                c->slide = sl;
            char **lb = realloc(c->label, (size_t)cap * sizeof *lb);
            if (lb)
                c->label = lb;
            int64_t *ln = realloc(c->line, (size_t)cap * sizeof *ln);
            if (ln)
                c->line = ln;
            if (!sl || !lb || !ln) {
                rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
                break;
            }
            c->cap = cap;
        }
        char *sv = NULL, *lv = NULL;
        for (int col = 0; col < ncols; col++) {
            series_next_cell(&p, end, &cell, &len);
            if (col == col_slide)
                sv = strndup(cell, len);
            else if (col == col_label)
                lv = strndup(cell, len);
        }
        c->slide[c->rows] = sv;
        c->label[c->rows] = lv;
        c->line[c->rows] = it.lineno;
        c->rows++;
        if (!sv || !lv)
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
        else if (!sv[0] || !lv[0])
            rc = ssm_fail(err, SSM_EFORMAT, "%s: line %" PRId64 ": empty %s", path, it.lineno,
                          sv[0] ? "label" : "slide_id");
        else if (strchr(sv, '/'))
            rc = ssm_fail(err, SSM_EFORMAT, "%s: line %" PRId64 ": slide_id '%s' has a '/': "
                          "expected a file name", path, it.lineno, sv);
    }
    series_text_free(&txt);
    if (rc == SSM_OK && !c->rows)
        rc = ssm_fail(err, SSM_EFORMAT, "%s: no slides: expected a header case_id,slide_id,label "
                      "and one row per slide", path);
    return rc;
}

static int cmp_slide(const void *a, const void *b, void *rows) {
    const csv_rows *c = rows;
    return strcmp(c->slide[*(const int64_t *)a], c->slide[*(const int64_t *)b]);
}
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ssm_code check_unique(const csv_rows *c, const char *path, ssm_error *err) {
    int64_t *idx = malloc((size_t)c->rows * sizeof *idx);
    if (!idx)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < c->rows; i++)
        idx[i] = i;
    qsort_r(idx, (size_t)c->rows, sizeof *idx, cmp_slide, (void *)c);
    ssm_code rc = SSM_OK;
    for (int64_t i = 1; i < c->rows && rc == SSM_OK; i++)
        if (!strcmp(c->slide[idx[i]], c->slide[idx[i - 1]])) {
            int64_t a = c->line[idx[i - 1]], b = c->line[idx[i]];
            rc = ssm_fail(err, SSM_EDATA, "%s: slide '%s' is on lines %" PRId64 " and %" PRId64,
                          path, c->slide[idx[i]], a < b ? a : b, a < b ? b : a);
        }
    free(idx);
    return rc;
}

// Classes of the label names: from map ("a:0,b:1") or the sorted distinct names.
static ssm_code map_labels(mil_bags *s, const csv_rows *c, const char *map, const char *path,
                           ssm_error *err) {
    enum { MAX_NAMES = 256 };
    char *names[MAX_NAMES];
    int32_t cls[MAX_NAMES];
    int nn = 0;
    ssm_code rc = SSM_OK;
    if (map && map[0]) {
        const char *p = map, *end = map + strlen(map), *cell;
        size_t len;
        while (p < end && rc == SSM_OK) {
            series_next_cell(&p, end, &cell, &len);
            const char *colon = memchr(cell, ':', len);
            char *num_end = NULL;
            long v = colon ? strtol(colon + 1, &num_end, 10) : -1;
            if (!colon || colon == cell || num_end != cell + len || v < 0 || v > 1000 ||
                nn == MAX_NAMES) {
                rc = ssm_fail(err, SSM_ECONFIG, "data.label_map '%s': '%.*s': expected name:class "
                              "pairs with classes 0..1000 (at most %d names), comma-separated",
                              map, (int)len, cell, MAX_NAMES);
                break;
            }
            if (!(names[nn] = strndup(cell, (size_t)(colon - cell))))
                rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
            else
                cls[nn++] = (int32_t)v;
        }
    } else {
        for (int64_t i = 0; i < c->rows && rc == SSM_OK; i++) {
            int known = 0;
            for (int j = 0; j < nn && !known; j++)
                known = !strcmp(names[j], c->label[i]);
            if (known)
                continue;
            if (nn == MAX_NAMES)
                rc = ssm_fail(err, SSM_EDATA, "%s: more than %d label names", path, MAX_NAMES);
            else if ((names[nn] = strdup(c->label[i])))
                nn++;
            else
                rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        }
        qsort(names, (size_t)nn, sizeof *names, cmp_str);
        for (int j = 0; j < nn; j++)
            cls[j] = j;
    }
    int32_t num = 0;
    for (int j = 0; j < nn; j++)
        num = cls[j] + 1 > num ? cls[j] + 1 : num;
    if (rc == SSM_OK && num < 2)
        rc = ssm_fail(err, SSM_EDATA, "%s: %d class%s (%s): a MIL task needs at least 2", path,
                      num, num == 1 ? "" : "es", map && map[0] ? "data.label_map" : "label names");
    if (rc == SSM_OK)
        rc = mil_bags_alloc(s, c->rows, num, NULL, err);
    for (int32_t k = 0; k < num && rc == SSM_OK; k++) // a class's name: its first name
        for (int j = 0; j < nn; j++)
            if (cls[j] == k) {
                free(s->class_names[k]);
                s->class_names[k] = strdup(names[j]);
                break;
            }
    for (int64_t i = 0; i < c->rows && rc == SSM_OK; i++) {
        int j = 0;
        while (j < nn && strcmp(names[j], c->label[i]))
            j++;
        if (j == nn)
            rc = ssm_fail(err, SSM_EDATA, "%s: line %" PRId64 ": slide '%s' has label '%s', "
                          "which data.label_map '%s' does not name", path, c->line[i], c->slide[i],
                          c->label[i], map ? map : "");
        else
            s->label[i] = cls[j];
    }
    for (int j = 0; j < nn; j++)
        free(names[j]);
    return rc;
}

ssm_code mil_clam_open(mil_bags *s, const mil_clam_opts *o, ssm_error *err) {
    memset(s, 0, sizeof *s);
    csv_rows c = {0};
    clam_impl *im = calloc(1, sizeof *im);
    if (!im)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    if (o->features_dir && o->features_dir[0])
        snprintf(im->dir, sizeof im->dir, "%s", o->features_dir);
    else { // the CSV's folder
        const char *slash = strrchr(o->csv, '/');
        snprintf(im->dir, sizeof im->dir, "%.*s", slash ? (int)(slash - o->csv) : 1,
                 slash ? o->csv : ".");
    }
    ssm_code rc = read_csv(&c, o->csv, err);
    if (rc == SSM_OK)
        rc = check_unique(&c, o->csv, err);
    if (rc == SSM_OK)
        rc = map_labels(s, &c, o->label_map, o->csv, err);
    if (rc) {
        free(im);
        csv_rows_free(&c);
        mil_bags_free(s);
        return rc;
    }
    s->impl = im;
    s->impl_free = free;
    s->read = clam_read;
    s->has_coords = o->coords != 0;
    snprintf(s->what, sizeof s->what, "%s", o->csv);
    for (int64_t i = 0; i < s->n; i++) { // the set takes the slide names
        s->names[i] = c.slide[i];
        c.slide[i] = NULL;
    }
    int64_t F = -1;
    mil_h5_lock();
    for (int64_t i = 0; i < s->n && rc == SSM_OK; i++) {
        char path[1200];
        mil_clam_h5_path(path, sizeof path, im->dir, s->names[i]);
        slide_file f;
        rc = slide_open(&f, path, s->names[i], F, F < 0 ? &F : NULL, s->has_coords,
                        i == 0 ? -1 : im->has_witness, err);
        if (rc == SSM_OK && i == 0)
            im->has_witness = f.witness >= 0;
        s->len[i] = (int64_t)f.rows;
        slide_close(&f);
        if (rc)
            ssm_error_prefix(err, "%s: line %" PRId64 ": ", o->csv, c.line[i]);
    }
    mil_h5_unlock();
    csv_rows_free(&c);
    if (rc) {
        mil_bags_free(s);
        return rc;
    }
    s->F = F;
    s->token = F + (s->has_coords ? 2 : 0);
    s->has_inst_labels = im->has_witness;
    return SSM_OK;
}

ssm_code mil_clam_open_files(mil_bags *s, char *const *paths, int64_t n, int coords,
                             ssm_error *err) {
    memset(s, 0, sizeof *s);
    clam_impl *im = calloc(1, sizeof *im);
    if (!im)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    im->by_path = 1;
    s->impl = im;
    s->impl_free = free;
    s->read = clam_read;
    s->has_coords = coords != 0;
    ssm_code rc = mil_bags_alloc(s, n, 2, NULL, err); // no labels: every bag is class 0
    snprintf(s->what, sizeof s->what, "%s", n > 0 ? paths[0] : "");
    int64_t F = -1;
    mil_h5_lock();
    for (int64_t i = 0; i < n && rc == SSM_OK; i++) {
        slide_file f = {.file = -1, .feat = -1, .coords = -1, .witness = -1};
        rc = mil_bags_set_name(s, i, paths[i], err);
        if (rc == SSM_OK)
            rc = slide_open(&f, paths[i], paths[i], F, F < 0 ? &F : NULL, s->has_coords, 0, err);
        s->len[i] = (int64_t)f.rows;
        slide_close(&f);
    }
    mil_h5_unlock();
    if (rc) {
        mil_bags_free(s);
        return rc;
    }
    s->F = F;
    s->token = F + (s->has_coords ? 2 : 0);
    return SSM_OK;
}
