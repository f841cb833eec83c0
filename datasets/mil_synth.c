// defines: mil_synth_write (see mil_synth.h)
#include "datasets/mil_synth.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "datasets/mil_bags.h"
#include "datasets/mil_clam.h"
#include "datasets/mil_folds.h"

enum { BLOCK_ROWS = 1024 }; // rows generated and written at a time

#define LABEL_STREAM 0x6c61626cull // "labl"
#define DIR_STREAM 0x64697263ull   // "dirc"
#define BAG_STREAM 0x62616773ull   // "bags"

static ssm_code make_dir(const char *path, ssm_error *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return ssm_fail(err, SSM_EIO, "%s: cannot create the folder: %s", path, strerror(errno));
    return SSM_OK;
}

// A 1-D or 2-D dataset of `type` in file f.
static hid_t create_dataset(hid_t f, const char *name, hid_t type, hsize_t rows, hsize_t cols) {
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    if (sp < 0)
        return -1;
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
    return d;
}

static int write_rows(hid_t d, hid_t mem_type, hsize_t r0, hsize_t nr, hsize_t cols,
                      const void *buf) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {r0, 0}, count[2] = {nr, cols};
    hid_t ms = H5Screate_simple(cols ? 2 : 1, count, NULL);
    int ok = fs >= 0 && ms >= 0 &&
             H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dwrite(d, mem_type, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return ok;
}

// One slide's file: N instances, the sorted witness rows wit[nw].
static ssm_code write_slide(const char *path, const mil_synth_opts *o, int64_t N,
                            const int64_t *wit, int64_t nw, const double *dir, ssm_rng *r,
                            ssm_error *err) {
    int64_t F = o->F, W = (int64_t)ceil(sqrt((double)N));
    float *fb = malloc((size_t)(BLOCK_ROWS * F) * sizeof *fb);
    int64_t *cb = malloc((size_t)BLOCK_ROWS * 2 * sizeof *cb);
    int32_t *wb = malloc((size_t)BLOCK_ROWS * sizeof *wb);
    if (!fb || !cb || !wb) {
        free(fb);
        free(cb);
        free(wb);
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    }
    ssm_code rc = SSM_OK;
    mil_h5_lock();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t df = f >= 0 ? create_dataset(f, "features", H5T_IEEE_F32LE, (hsize_t)N, (hsize_t)F) : -1;
    hid_t dc = f >= 0 ? create_dataset(f, "coords", H5T_STD_I64LE, (hsize_t)N, 2) : -1;
    hid_t dw = f >= 0 ? create_dataset(f, "witness", H5T_STD_I32LE, (hsize_t)N, 0) : -1;
    if (f < 0 || df < 0 || dc < 0 || dw < 0)
        rc = ssm_fail(err, SSM_EIO, "%s: cannot create the HDF5 file", path);
    int64_t w = 0; // next witness
    for (int64_t r0 = 0; r0 < N && rc == SSM_OK; r0 += BLOCK_ROWS) {
        int64_t nr = N - r0 < BLOCK_ROWS ? N - r0 : BLOCK_ROWS;
        for (int64_t i = 0; i < nr; i++) {
            int64_t row = r0 + i;
            int is_w = w < nw && wit[w] == row;
            w += is_w;
            for (int64_t j = 0; j < F; j++)
                fb[i * F + j] = (float)(ssm_rng_normal(r, 1.0) + (is_w ? o->shift * dir[j] : 0));
            cb[2 * i] = (row % W) * 256;
            cb[2 * i + 1] = (row / W) * 256;
            wb[i] = is_w;
        }
        if (!write_rows(df, H5T_NATIVE_FLOAT, (hsize_t)r0, (hsize_t)nr, (hsize_t)F, fb) ||
            !write_rows(dc, H5T_NATIVE_INT64, (hsize_t)r0, (hsize_t)nr, 2, cb) ||
            !write_rows(dw, H5T_NATIVE_INT32, (hsize_t)r0, (hsize_t)nr, 0, wb))
            rc = ssm_fail(err, SSM_EIO, "%s: writing rows %" PRId64 ".. failed", path, r0);
    }
    if (dw >= 0)
        H5Dclose(dw);
    if (dc >= 0)
        H5Dclose(dc);
    if (df >= 0)
        H5Dclose(df);
    if (f >= 0 && H5Fclose(f) < 0 && rc == SSM_OK)
        rc = ssm_fail(err, SSM_EIO, "%s: closing the HDF5 file failed", path);
    mil_h5_unlock();
    free(fb);
    free(cb);
    free(wb);
    return rc;
}

static ssm_code check_opts(const mil_synth_opts *o, ssm_error *err) {
    if (o->n_bags < 2 || o->min_len < 1 || o->max_len < o->min_len || o->F < 1 ||
        o->min_witness < 1 || o->max_witness < o->min_witness || !(o->positive_fraction > 0) ||
        !(o->positive_fraction < 1) || o->n_splits < 0 || o->n_splits == 1 ||
        o->n_splits > o->n_bags || !(o->val_fraction >= 0 && o->val_fraction < 1) ||
        !isfinite(o->shift))
        return ssm_fail(err, SSM_EINVAL,
                        "synthetic bags: %" PRId64 " bags of %" PRId64 "..%" PRId64
                        " instances, F %" PRId64 ", %" PRId64 "..%" PRId64
                        " witnesses, positive fraction %g, %" PRId64
                        " splits, val fraction %g, shift %g: expected >= 2 bags, 1 <= min <= max, "
                        "F >= 1, 1 <= min witnesses <= max, 0 < fraction < 1, 0 or 2..n_bags "
                        "splits, 0 <= val fraction < 1, a finite shift",
                        o->n_bags, o->min_len, o->max_len, o->F, o->min_witness, o->max_witness,
                        o->positive_fraction, o->n_splits, o->val_fraction, o->shift);
    return SSM_OK;
}

ssm_code mil_synth_write(const char *dir, const mil_synth_opts *o, ssm_error *err) {
    SSM_TRY(check_opts(o, err));
    char path[1200];
    SSM_TRY(make_dir(dir, err));
    snprintf(path, sizeof path, "%s/h5_files", dir);
    SSM_TRY(make_dir(path, err));
    int64_t n = o->n_bags;
    int32_t *label = calloc((size_t)n, sizeof *label);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    int64_t *wit = malloc((size_t)o->max_witness * sizeof *wit);
    double *direction = malloc((size_t)o->F * sizeof *direction);
    char **names = calloc((size_t)n, sizeof *names);
    ssm_rng r = {0};
    ssm_code rc = !label || !perm || !wit || !direction || !names
                      ? ssm_fail(err, SSM_ENOMEM, "out of memory")
                      : ssm_rng_init(&r, ssm_seed_derive(o->seed, LABEL_STREAM), err);
    if (rc == SSM_OK) { // which bags are positive: the first round(fraction n) of a shuffle
        for (int64_t i = 0; i < n; i++)
            perm[i] = i;
        ssm_rng_shuffle(&r, perm, (size_t)n);
        int64_t pos = llround(o->positive_fraction * (double)n);
        pos = pos < 1 ? 1 : pos > n - 1 ? n - 1 : pos;
        for (int64_t i = 0; i < pos; i++)
            label[perm[i]] = 1;
        ssm_rng_free(&r);
        rc = ssm_rng_init(&r, ssm_seed_derive(o->seed, DIR_STREAM), err);
    }
    if (rc == SSM_OK) { // the hidden direction: a random unit vector
        double norm = 0;
        for (int64_t j = 0; j < o->F; j++) {
            direction[j] = ssm_rng_normal(&r, 1.0);
            norm += direction[j] * direction[j];
        }
        for (int64_t j = 0; j < o->F; j++)
            direction[j] /= sqrt(norm);
        ssm_rng_free(&r);
        r.g = NULL;
    }
    FILE *csv = NULL;
    if (rc == SSM_OK) {
        snprintf(path, sizeof path, "%s/dataset.csv", dir);
        if (!(csv = fopen(path, "w")))
            rc = ssm_fail(err, SSM_EIO, "%s: cannot create", path);
        else
            fprintf(csv, "case_id,slide_id,label\n");
    }
    for (int64_t i = 0; i < n && rc == SSM_OK; i++) {
        char slide[32];
        snprintf(slide, sizeof slide, "slide_%04" PRId64, i);
        if (!(names[i] = strdup(slide))) {
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
            break;
        }
        fprintf(csv, "case_%04" PRId64 ",%s,%s\n", i, slide, label[i] ? "tumor" : "normal");
        if ((rc = ssm_rng_init(&r, ssm_seed_derive(ssm_seed_derive(o->seed, BAG_STREAM),
                                                   (uint64_t)i), err)))
            break;
        int64_t N = o->min_len + (int64_t)ssm_rng_below(&r, (uint64_t)(o->max_len - o->min_len + 1));
        int64_t nw = 0;
        if (label[i]) {
            nw = o->min_witness +
                 (int64_t)ssm_rng_below(&r, (uint64_t)(o->max_witness - o->min_witness + 1));
            nw = nw < N ? nw : N;
            mil_crop_rows(wit, N, nw, (uint64_t)ssm_rng_below(&r, UINT64_MAX));
        }
        mil_clam_h5_path(path, sizeof path, dir, slide);
        rc = write_slide(path, o, N, wit, nw, direction, &r, err);
        ssm_rng_free(&r);
        r.g = NULL;
    }
    if (csv && fclose(csv) != 0 && rc == SSM_OK)
        rc = ssm_fail(err, SSM_EIO, "%s/dataset.csv: write failed", dir);
    if (rc == SSM_OK && o->n_splits > 0) {
        snprintf(path, sizeof path, "%s/splits", dir);
        rc = make_dir(path, err);
    }
    for (int64_t k = 0; k < o->n_splits && rc == SSM_OK; k++) {
        mil_split sp;
        rc = mil_folds_stratified(&sp, label, n, 2, o->n_splits, k, 0, o->val_fraction, o->seed,
                                  err);
        if (rc)
            break;
        snprintf(path, sizeof path, "%s/splits/splits_%" PRId64 ".csv", dir, k);
        rc = mil_split_write_clam(path, names, &sp, err);
        mil_split_free(&sp);
    }
    if (r.g)
        ssm_rng_free(&r);
    for (int64_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(label);
    free(perm);
    free(wit);
    free(direction);
    return rc;
}
