// defines: pc_h5_modelnet_load, pc_h5_scanobjectnn_load, pc_h5_scanobjectnn_file,
//          PC_SCANOBJECTNN_CLASSES (see pc_h5.h)
#include "datasets/pc_h5.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/mil_clam.h"
#include "datasets/series_text.h"

const char *const PC_SCANOBJECTNN_CLASSES[15] = {
    "bag", "bin",  "box",   "cabinet", "chair", "desk", "display", "door",
    "shelf", "table", "bed", "pillow", "sink",  "sofa", "toilet"};

typedef struct {
    char path[1200];
    hsize_t n, P;
} h5_info;

// One file's arrays, read whole (a 2048-cloud file is 50 MB of float).
typedef struct {
    float *data;     // [n, P, 3]
    float *normal;   // [n, P, 3] or NULL
    int32_t *label;  // [n]
    hsize_t n, P;
} h5_rows;

static void rows_free(h5_rows *r) {
    free(r->data);
    free(r->normal);
    free(r->label);
    memset(r, 0, sizeof *r);
}

// The shape of dataset `name`; rank 0 when absent.
static int dset_dims(hid_t f, const char *name, hsize_t dims[3]) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0)
        return 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t sp = H5Dget_space(d);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (rank >= 1 && rank <= 3)
        H5Sget_simple_extent_dims(sp, dims, NULL);
    else
        rank = -1;
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    return rank;
}

static ssm_code check_file(hid_t f, const char *path, int normals, hsize_t *n, hsize_t *P,
                           ssm_error *err) {
    hsize_t dd[3], dl[3], dn[3];
    int rd = dset_dims(f, "data", dd), rl = dset_dims(f, "label", dl);
    if (rd != 3 || dd[2] != 3 || dd[0] < 1 || dd[1] < 1)
        return ssm_fail(err, SSM_EDATA, "%s: dataset 'data' %s, expected [n, points, 3]", path,
                        rd == 0 ? "is missing" : "has the wrong shape");
    if (!((rl == 1 && dl[0] == dd[0]) || (rl == 2 && dl[0] == dd[0] && dl[1] == 1)))
        return ssm_fail(err, SSM_EDATA, "%s: dataset 'label' %s, expected [%llu] or [%llu, 1]",
                        path, rl == 0 ? "is missing" : "has the wrong shape",
                        (unsigned long long)dd[0], (unsigned long long)dd[0]);
    if (normals) {
        int rn = dset_dims(f, "normal", dn);
        if (rn != 3 || dn[0] != dd[0] || dn[1] != dd[1] || dn[2] != 3)
            return ssm_fail(err, SSM_EDATA, "%s: dataset 'normal' %s (data.normals), expected "
                            "the shape of 'data'", path, rn == 0 ? "is missing" : "has the wrong "
                            "shape");
    }
    *n = dd[0];
    *P = dd[1];
    return SSM_OK;
}

static ssm_code read_dset(hid_t f, const char *name, hid_t type, void *buf, const char *path,
                          ssm_error *err) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    herr_t r = d >= 0 ? H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
    if (d >= 0)
        H5Dclose(d);
    if (r < 0)
        return ssm_fail(err, SSM_EDATA, "%s: cannot read dataset '%s' as numbers (corrupt, or "
                        "not a numeric type)", path, name);
    return SSM_OK;
}

// info only (rows = NULL) or the whole file.
static ssm_code open_rows(h5_info *info, h5_rows *rows, int normals, ssm_error *err) {
    mil_h5_lock();
    hid_t f = H5Fopen(info->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ssm_code rc = SSM_OK;
    if (f < 0) {
        struct stat st;
        rc = ssm_fail(err, stat(info->path, &st) ? SSM_EIO : SSM_EDATA, "%s: %s", info->path,
                      stat(info->path, &st) ? "no such file" : "not an HDF5 file (or corrupt)");
    }
    if (rc == SSM_OK)
        rc = check_file(f, info->path, normals, &info->n, &info->P, err);
    if (rc == SSM_OK && rows) {
        memset(rows, 0, sizeof *rows);
        size_t np = (size_t)(info->n * info->P * 3);
        rows->n = info->n;
        rows->P = info->P;
        rows->data = malloc(np * sizeof *rows->data);
        rows->normal = normals ? malloc(np * sizeof *rows->normal) : NULL;
        rows->label = malloc((size_t)info->n * sizeof *rows->label);
        if (!rows->data || !rows->label || (normals && !rows->normal))
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory for %llu clouds", info->path,
                          (unsigned long long)info->n);
        if (rc == SSM_OK)
            rc = read_dset(f, "data", H5T_NATIVE_FLOAT, rows->data, info->path, err);
        if (rc == SSM_OK && normals)
            rc = read_dset(f, "normal", H5T_NATIVE_FLOAT, rows->normal, info->path, err);
        if (rc == SSM_OK)
            rc = read_dset(f, "label", H5T_NATIVE_INT32, rows->label, info->path, err);
        if (rc != SSM_OK)
            rows_free(rows);
    }
    if (f >= 0)
        H5Fclose(f);
    mil_h5_unlock();
    return rc;
}

typedef struct {
    const h5_rows *rows;
    int64_t first; // set index of the file's row 0
} row_ctx;

static ssm_code load_row(void *vctx, int64_t i, uint64_t key, pc_cloud *raw, ssm_error *err) {
    const row_ctx *c = vctx;
    const h5_rows *r = c->rows;
    int64_t row = i - c->first, P = (int64_t)r->P;
    raw->n = P;
    raw->C = r->normal ? 6 : 3;
    raw->label = NULL;
    raw->p = malloc((size_t)(P * raw->C) * sizeof *raw->p);
    if (!raw->p)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld points", (long long)P);
    for (int64_t j = 0; j < P; j++)
        for (int k = 0; k < 3; k++) {
            raw->p[j * raw->C + k] = r->data[(row * P + j) * 3 + k];
            if (r->normal)
                raw->p[j * raw->C + 3 + k] = r->normal[(row * P + j) * 3 + k];
        }
    return SSM_OK;
}

// Every file of the list into s (classes already in s->class_names).
static ssm_code load_files(pc_set *s, h5_info *files, int64_t nf, char *const *class_names,
                           int32_t k, const pc_prep *o, ssm_error *err) {
    int64_t total = 0;
    for (int64_t i = 0; i < nf; i++) {
        SSM_TRY(open_rows(&files[i], NULL, o->normals, err));
        total += (int64_t)files[i].n;
    }
    SSM_TRY(pc_set_alloc(s, total, o, 0, err));
    ssm_code rc = pc_set_class_names(s, class_names, k, err);
    for (int64_t fi = 0, first = 0; rc == SSM_OK && fi < nf; fi++) {
        h5_rows rows;
        rc = open_rows(&files[fi], &rows, o->normals, err);
        if (rc != SSM_OK)
            break;
        const char *base = strrchr(files[fi].path, '/');
        base = base ? base + 1 : files[fi].path;
        for (int64_t j = 0; rc == SSM_OK && j < (int64_t)rows.n; j++) {
            char name[1300]; // a path of up to 1200 bytes, "#", the row
            snprintf(name, sizeof name, "%s#%lld", base, (long long)j);
            if (rows.label[j] < 0 || rows.label[j] >= k)
                rc = ssm_fail(err, SSM_EDATA, "%s: row %lld: label %d, expected 0..%d (%d "
                              "classes)", files[fi].path, (long long)j, rows.label[j], k - 1, k);
            else if (!(s->names[first + j] = strdup(name)))
                rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
            else
                s->labels[first + j] = rows.label[j];
        }
        row_ctx ctx = {&rows, first};
        if (rc == SSM_OK)
            rc = pc_set_fill(s, o, first, first + (int64_t)rows.n, load_row, &ctx, err);
        first += (int64_t)rows.n;
        rows_free(&rows);
    }
    if (rc != SSM_OK)
        pc_set_free(s);
    return rc;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// A text file's non-empty trimmed lines, as a malloc'd array of strings.
static ssm_code text_lines(char ***out, int64_t *n, const char *path, ssm_error *err) {
    *out = NULL;
    *n = 0;
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    series_lines it;
    series_lines_init(&it, &t);
    const char *s;
    size_t len;
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK && series_next_line(&it, &s, &len)) {
        series_trim(&s, &len);
        if (!len)
            continue;
        char **ns = realloc(*out, (size_t)(*n + 1) * sizeof *ns);
        if (!ns || !(ns[*n] = strndup(s, len))) {
            if (ns)
                *out = ns;
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
            break;
        }
        *out = ns;
        (*n)++;
    }
    series_text_free(&t);
    if (rc == SSM_OK && !*n)
        rc = ssm_fail(err, SSM_EDATA, "%s: empty", path);
    return rc;
}

static void strings_free(char **s, int64_t n) {
    for (int64_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

ssm_code pc_h5_modelnet_load(pc_set *s, const char *dir, const char *split, const pc_prep *o,
                             ssm_error *err) {
    memset(s, 0, sizeof *s);
    char path[1200];
    char **names = NULL, **list = NULL;
    int64_t nn = 0, nl = 0;
    snprintf(path, sizeof path, "%s/shape_names.txt", dir);
    ssm_code rc = text_lines(&names, &nn, path, err);
    snprintf(path, sizeof path, "%s/%s_files.txt", dir, split);
    if (rc == SSM_OK)
        rc = text_lines(&list, &nl, path, err);
    h5_info *files = rc == SSM_OK ? calloc((size_t)nl, sizeof *files) : NULL;
    if (rc == SSM_OK && !files)
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; rc == SSM_OK && i < nl; i++) {
        // as listed, under the folder's parent ("data/modelnet40_ply_hdf5_2048/x.h5"), else
        // the file's name in the folder
        const char *base = strrchr(list[i], '/');
        snprintf(files[i].path, sizeof files[i].path, "%s/../%s", dir, list[i]);
        if (!exists(files[i].path))
            snprintf(files[i].path, sizeof files[i].path, "%s/%s", dir, base ? base + 1 : list[i]);
        if (!exists(files[i].path))
            rc = ssm_fail(err, SSM_EIO, "%s:%lld: %s: no such file (looked under %s/.. and "
                          "in %s)", path, (long long)i + 1, list[i], dir, dir);
    }
    if (rc == SSM_OK && nn > 1000)
        rc = ssm_fail(err, SSM_EDATA, "%s/shape_names.txt: %lld classes", dir, (long long)nn);
    if (rc == SSM_OK)
        rc = load_files(s, files, nl, names, (int32_t)nn, o, err);
    free(files);
    strings_free(names, nn);
    strings_free(list, nl);
    return rc;
}

const char *pc_h5_scanobjectnn_file(const char *subset, const char *split) {
    int train = !strcmp(split, "train");
    if (!strcmp(subset, "obj_bg"))
        return train ? "main_split/training_objectdataset.h5" : "main_split/test_objectdataset.h5";
    if (!strcmp(subset, "obj_only"))
        return train ? "main_split_nobg/training_objectdataset.h5"
                     : "main_split_nobg/test_objectdataset.h5";
    if (!strcmp(subset, "pb_t50_rs"))
        return train ? "main_split/training_objectdataset_augmentedrot_scale75.h5"
                     : "main_split/test_objectdataset_augmentedrot_scale75.h5";
    return NULL;
}

ssm_code pc_h5_scanobjectnn_load(pc_set *s, const char *dir, const char *subset,
                                 const char *split, const pc_prep *o, ssm_error *err) {
    memset(s, 0, sizeof *s);
    const char *rel = pc_h5_scanobjectnn_file(subset, split);
    if (!rel)
        return ssm_fail(err, SSM_ECONFIG, "data.subset: '%s' is not a ScanObjectNN variant; "
                        "known: obj_bg, obj_only, pb_t50_rs", subset);
    h5_info f;
    snprintf(f.path, sizeof f.path, "%s/%s", dir, rel);
    if (!exists(f.path)) // data.path may be the variant folder itself
        snprintf(f.path, sizeof f.path, "%s/%s", dir, strchr(rel, '/') + 1);
    if (!exists(f.path))
        return ssm_fail(err, SSM_EIO, "%s/%s: no such file (data.path: ScanObjectNN's h5_files "
                        "folder, or its %.*s folder)", dir, rel, (int)(strchr(rel, '/') - rel),
                        rel);
    return load_files(s, &f, 1, (char *const *)PC_SCANOBJECTNN_CLASSES, 15, o, err);
}
