// defines: ssm_idx_read, ssm_idx_free, ssm_idx_read_images, ssm_idx_read_labels (see idx.h)
#include "datasets/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

// Reads up to n bytes; returns the count read (short only at end of stream or
// on a zlib error, which the caller tells apart with stream_error).
static int64_t read_bytes(gzFile f, uint8_t *buf, int64_t n) {
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got;
        if (want > (1 << 30))
            want = 1 << 30; // gzread takes an unsigned int and returns an int
        int r = gzread(f, buf + got, (unsigned)want);
        if (r <= 0)
            break;
        got += r;
    }
    return got;
}

// Non-NULL when the stream stopped because of an error rather than a clean
// end of file. *cut_short is set when zlib's complaint is that the gzip
// stream ended early (a truncated .gz), which we report as truncation.
static const char *stream_error(gzFile f, int *cut_short) {
    int errnum = Z_OK;
    const char *msg = gzerror(f, &errnum);
    *cut_short = errnum == Z_BUF_ERROR;
    if (errnum == Z_OK || errnum == Z_STREAM_END)
        return NULL;
    if (errnum == Z_ERRNO)
        return strerror(errno);
    return msg;
}

static const char *kind_name(uint32_t magic) {
    return magic == SSM_IDX_MAGIC_IMAGES ? "images" : magic == SSM_IDX_MAGIC_LABELS ? "labels"
                                                                                    : "elements";
}

// "60000 images of 28x28" / "60000 labels": what the header promises, for messages.
static void describe(char *buf, size_t cap, uint32_t magic, int ndim, const int64_t *dims) {
    int k = snprintf(buf, cap, "%" PRId64 " %s", dims[0], kind_name(magic));
    for (int d = 1; d < ndim && k > 0 && (size_t)k < cap; d++)
        k += snprintf(buf + k, cap - (size_t)k, "%s%" PRId64, d == 1 ? " of " : "x", dims[d]);
}

void ssm_idx_free(ssm_idx *x) {
    if (!x)
        return;
    free(x->data);
    memset(x, 0, sizeof *x);
}

static ssm_code read_body(gzFile f, const char *path, const ssm_idx *h, int64_t expect,
                          uint8_t **data, ssm_error *err) {
    char what[160];
    describe(what, sizeof what, h->magic, h->ndim, h->dims);
    // Grow with the bytes that actually arrive: a corrupt header may claim
    // terabytes, and we must answer "truncated", not die allocating.
    int64_t cap = 0, got = 0;
    uint8_t *buf = NULL;
    while (got < expect) {
        if (got == cap) {
            int64_t ncap = cap ? cap * 2 : (1 << 20);
            if (ncap > expect)
                ncap = expect;
            uint8_t *nb = realloc(buf, (size_t)ncap);
            if (!nb) {
                free(buf);
                return ssm_fail(err, SSM_ENOMEM, "%s: cannot allocate %" PRId64 " bytes for %s",
                                path, ncap, what);
            }
            buf = nb;
            cap = ncap;
        }
        int64_t r = read_bytes(f, buf + got, cap - got);
        got += r;
        if (got < cap)
            break;
    }
    int cut = 0;
    const char *zmsg = stream_error(f, &cut);
    if (zmsg && !cut) {
        free(buf);
        return ssm_fail(err, SSM_EFORMAT, "%s: corrupt data after %" PRId64 " of %" PRId64
                        " bytes of %s: %s", path, got, expect, what, zmsg);
    }
    if (got < expect) {
        free(buf);
        return ssm_fail(err, SSM_EFORMAT,
                        "%s: truncated: header says %s (%" PRId64 " bytes) but only %" PRId64
                        " bytes follow%s", path, what, expect, got,
                        cut ? " (gzip stream cut short)" : "");
    }
    // Read on to the end: this both refuses trailing bytes (a header that
    // undercounts) and makes zlib verify the gzip CRC and length.
    uint8_t tail[4096];
    int64_t extra = 0, r;
    while ((r = read_bytes(f, tail, sizeof tail)) > 0)
        extra += r;
    zmsg = stream_error(f, &cut);
    if (zmsg) {
        free(buf);
        return ssm_fail(err, SSM_EFORMAT, "%s: corrupt data at the end of %s: %s", path, what,
                        zmsg);
    }
    if (extra) {
        free(buf);
        return ssm_fail(err, SSM_EFORMAT,
                        "%s: header says %s (%" PRId64 " bytes) but %" PRId64
                        " more bytes follow them", path, what, expect, extra);
    }
    *data = buf;
    return SSM_OK;
}

ssm_code ssm_idx_read(const char *path, uint32_t expect_magic, ssm_idx *out, ssm_error *err) {
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return ssm_fail(err, errno == ENOENT ? SSM_ENOTFOUND : SSM_EIO, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "zlib could not allocate its state");
    gzbuffer(f, 1 << 17);

    ssm_code rc = SSM_OK;
    uint8_t hdr[4 + 4 * SSM_IDX_MAX_DIMS];
    int cut = 0;
    int64_t got = read_bytes(f, hdr, 4);
    const char *zmsg = stream_error(f, &cut);
    int expect_ndim = (int)(expect_magic & 0xff);
    if (zmsg && !cut) {
        rc = ssm_fail(err, SSM_EFORMAT, "%s: corrupt data in the IDX header: %s", path, zmsg);
        goto done;
    }
    if (got < 4) {
        rc = ssm_fail(err, SSM_EFORMAT,
                      "%s: truncated: expected a 4-byte IDX magic (0x%08X, %s) but the file has "
                      "only %" PRId64 " bytes", path, expect_magic, kind_name(expect_magic), got);
        goto done;
    }
    out->magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (out->magic != expect_magic) {
        const char *hint = hdr[0] || hdr[1] ? "not an IDX file"
                           : hdr[2] != 0x08 ? "element type is not unsigned byte (0x08)"
                                            : "wrong number of dimensions";
        rc = ssm_fail(err, SSM_EFORMAT,
                      "%s: bad magic 0x%08X: expected 0x%08X (IDX unsigned-byte %s, %d "
                      "dimension%s): %s", path, out->magic, expect_magic, kind_name(expect_magic),
                      expect_ndim, expect_ndim == 1 ? "" : "s", hint);
        goto done;
    }
    out->ndim = expect_ndim;
    got = read_bytes(f, hdr + 4, 4 * out->ndim);
    zmsg = stream_error(f, &cut);
    if (zmsg && !cut) {
        rc = ssm_fail(err, SSM_EFORMAT, "%s: corrupt data in the IDX header: %s", path, zmsg);
        goto done;
    }
    if (got < 4 * out->ndim) {
        rc = ssm_fail(err, SSM_EFORMAT,
                      "%s: truncated: expected %d dimension sizes (%d bytes) after the magic but "
                      "only %" PRId64 " bytes follow", path, out->ndim, 4 * out->ndim, got);
        goto done;
    }
    int64_t expect = 1;
    for (int d = 0; d < out->ndim; d++) {
        const uint8_t *p = hdr + 4 + 4 * d;
        out->dims[d] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                                 (uint32_t)p[2] << 8 | p[3]);
        if (d > 0 && out->dims[d] == 0) {
            rc = ssm_fail(err, SSM_EFORMAT, "%s: dimension %d of the %s is 0: expected >= 1", path,
                          d, kind_name(expect_magic));
            goto done;
        }
        if (__builtin_mul_overflow(expect, out->dims[d], &expect)) {
            rc = ssm_fail(err, SSM_EFORMAT, "%s: header dimensions overflow a 64-bit size", path);
            goto done;
        }
    }
    rc = read_body(f, path, out, expect, &out->data, err);
    if (rc == SSM_OK)
        out->size = expect;
done:
    gzclose(f);
    if (rc != SSM_OK)
        ssm_idx_free(out);
    return rc;
}

ssm_code ssm_idx_read_images(const char *path, uint8_t **pixels, int64_t *n, int64_t *h,
                             int64_t *w, ssm_error *err) {
    ssm_idx x;
    SSM_TRY(ssm_idx_read(path, SSM_IDX_MAGIC_IMAGES, &x, err));
    *pixels = x.data;
    *n = x.dims[0];
    *h = x.dims[1];
    *w = x.dims[2];
    return SSM_OK;
}

ssm_code ssm_idx_read_labels(const char *path, int32_t num_classes, int32_t **labels, int64_t *n,
                             ssm_error *err) {
    ssm_idx x;
    SSM_TRY(ssm_idx_read(path, SSM_IDX_MAGIC_LABELS, &x, err));
    int32_t *y = malloc((size_t)(x.dims[0] ? x.dims[0] : 1) * sizeof *y);
    if (!y) {
        ssm_idx_free(&x);
        return ssm_fail(err, SSM_ENOMEM, "%s: cannot allocate %" PRId64 " labels", path, x.dims[0]);
    }
    for (int64_t i = 0; i < x.dims[0]; i++) {
        y[i] = x.data[i];
        if (num_classes > 0 && y[i] >= num_classes) {
            ssm_fail(err, SSM_EDATA,
                     "%s: label %d at sample %" PRId64 " is out of range: expected 0..%d "
                     "(%d classes)", path, (int)y[i], i, num_classes - 1, num_classes);
            free(y);
            ssm_idx_free(&x);
            return SSM_EDATA;
        }
    }
    *labels = y;
    *n = x.dims[0];
    ssm_idx_free(&x);
    return SSM_OK;
}
