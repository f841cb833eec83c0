// defines: ssm_checkpoint_save, ssm_checkpoint_load, ssm_checkpoint_inspect, ssm_ckpt_info_print
// safetensors files for the flat parameter table (see checkpoint.h).
#include "core/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/ckpt_header.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader and writer assume a little-endian host"
#endif

#define REAL_DTYPE (REAL_IS_DOUBLE ? "F64" : "F32")

// --- save ------------------------------------------------------------------

static const char *const group_prefix[3] = {"", SSM_CKPT_OPTIM_M, SSM_CKPT_OPTIM_V};

static ssm_code build_header(const ssm_params *p, int groups, const ssm_metadata *meta, char **out,
                             size_t *len, ssm_error *err) {
    FILE *f = open_memstream(out, len);
    if (!f)
        return ssm_fail(err, SSM_ENOMEM, "out of memory building the checkpoint header");
    fputs("{\"__metadata__\":{", f);
    int first = 1;
    if (!meta || !ssm_metadata_get(meta, SSM_META_FORMAT)) {
        fputs("\"format\":\"pt\"", f);
        first = 0;
    }
    for (size_t i = 0; meta && i < meta->count; i++) {
        if (!first)
            fputc(',', f);
        first = 0;
        ssm_ckpt_json_string(f, meta->items[i].key);
        fputc(':', f);
        ssm_ckpt_json_string(f, meta->items[i].value);
    }
    fputc('}', f);
    uint64_t off = 0;
    for (int g = 0; g < groups; g++)
        for (size_t i = 0; i < p->count; i++) {
            const ssm_param_info *it = &p->items[i];
            uint64_t bytes = (uint64_t)it->numel * sizeof(real);
            char name[SSM_PARAM_NAME_MAX + 16];
            snprintf(name, sizeof name, "%s%s", group_prefix[g], it->name);
            fputc(',', f);
            ssm_ckpt_json_string(f, name);
            fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", REAL_DTYPE);
            for (int d = 0; d < it->ndim; d++)
                fprintf(f, d ? ",%lld" : "%lld", (long long)it->shape[d]);
            fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                    (unsigned long long)(off + bytes));
            off += bytes;
        }
    fputc('}', f);
    // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
    long pos = ftell(f);
    while (pos >= 0 && (8 + pos) % 8) {
        fputc(' ', f);
        pos++;
    }
    if (fclose(f) != 0 || !*out) {
        free(*out);
        *out = NULL;
        return ssm_fail(err, SSM_ENOMEM, "out of memory building the checkpoint header");
    }
    return SSM_OK;
}

ssm_code ssm_checkpoint_save(const char *path, const ssm_params *p, unsigned flags,
                             const ssm_metadata *meta, ssm_error *err) {
    int groups = (flags & SSM_CKPT_OPTIMIZER) ? 3 : 1;
    if (!p->data || (groups == 3 && (!p->m || !p->v)))
        return ssm_fail(err, SSM_EINVAL, "%s: the parameter table is not finalized", path);
    for (size_t i = 0; i < p->count; i++) {
        const char *n = p->items[i].name;
        if (!strcmp(n, "__metadata__") || !strncmp(n, SSM_CKPT_OPTIM_M, strlen(SSM_CKPT_OPTIM_M)) ||
            !strncmp(n, SSM_CKPT_OPTIM_V, strlen(SSM_CKPT_OPTIM_V)))
            return ssm_fail(err, SSM_EINVAL, "%s: parameter name '%s' is reserved in checkpoints",
                            path, n);
    }
    char *header = NULL;
    size_t hlen = 0;
    SSM_TRY(build_header(p, groups, meta, &header, &hlen, err));
    unsigned char len8[8];
    for (int b = 0; b < 8; b++)
        len8[b] = (unsigned char)((uint64_t)hlen >> (8 * b));
    ssm_atomic_file a;
    ssm_code rc = ssm_atomic_open(&a, path, err);
    if (rc == SSM_OK)
        rc = ssm_atomic_write(&a, len8, 8, err);
    if (rc == SSM_OK)
        rc = ssm_atomic_write(&a, header, hlen, err);
    const real *bufs[3] = {p->data, p->m, p->v};
    for (int g = 0; g < groups && rc == SSM_OK; g++)
        for (size_t i = 0; i < p->count && rc == SSM_OK; i++)
            rc = ssm_atomic_write(&a, bufs[g] + p->items[i].offset, p->items[i].numel * sizeof(real),
                                  err);
    free(header);
    if (rc != SSM_OK) {
        if (a.tmp[0] || a.f)
            ssm_atomic_abort(&a);
        return rc;
    }
    return ssm_atomic_commit(&a, err);
}

// --- inspect ---------------------------------------------------------------

// Opens path and reads its header; on success *fp is the open file.
static ssm_code open_and_parse(const char *path, FILE **fp, ssm_ckpt_info *info, ssm_error *err) {
    memset(info, 0, sizeof *info);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open checkpoint: %s", path, strerror(errno));
    struct stat st;
    ssm_code rc = SSM_OK;
    unsigned char len8[8];
    char *header = NULL;
    uint64_t n = 0, size = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        rc = ssm_fail(err, SSM_EIO, "%s: not a regular file", path);
    if (rc == SSM_OK) {
        size = (uint64_t)st.st_size;
        if (size < 8)
            rc = ssm_fail(err, SSM_EFORMAT,
                          "%s: %llu bytes, too short for safetensors (an 8-byte header length comes first)",
                          path, (unsigned long long)size);
    }
    if (rc == SSM_OK && fread(len8, 1, 8, f) != 8)
        rc = ssm_fail(err, SSM_EIO, "%s: cannot read the header length", path);
    if (rc == SSM_OK) {
        for (int b = 7; b >= 0; b--)
            n = n << 8 | len8[b];
        if (n > size - 8)
            rc = ssm_fail(err, SSM_EFORMAT,
                          "%s: header length %llu is more than the %llu bytes after it (truncated, or "
                          "not a safetensors file)", path, (unsigned long long)n,
                          (unsigned long long)(size - 8));
        else if (n > SSM_CKPT_MAX_HEADER)
            rc = ssm_fail(err, SSM_EFORMAT, "%s: header length %llu is over the 100 MiB limit", path,
                          (unsigned long long)n);
        else if (n < 2)
            rc = ssm_fail(err, SSM_EFORMAT, "%s: header length %llu, too short for a JSON object",
                          path, (unsigned long long)n);
    }
    if (rc == SSM_OK && !(header = malloc(n)))
        rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory for a %llu-byte header", path,
                      (unsigned long long)n);
    if (rc == SSM_OK && fread(header, 1, n, f) != n)
        rc = ssm_fail(err, SSM_EIO, "%s: short read of the header", path);
    if (rc == SSM_OK)
        rc = ssm_ckpt_header_parse(path, header, n, size - 8 - n, info, err);
    free(header);
    if (rc != SSM_OK) {
        fclose(f);
        return rc;
    }
    info->header_len = n;
    info->data_start = 8 + n;
    info->file_size = size;
    *fp = f;
    return SSM_OK;
}

ssm_code ssm_checkpoint_inspect(const char *path, ssm_ckpt_info *info, ssm_error *err) {
    FILE *f = NULL;
    SSM_TRY(open_and_parse(path, &f, info, err));
    fclose(f);
    return SSM_OK;
}

void ssm_ckpt_info_print(FILE *f, const ssm_ckpt_info *info, size_t max_value) {
    fprintf(f, "%zu tensors, %llu data bytes, header %llu bytes\n", info->count,
            (unsigned long long)(info->file_size - info->data_start),
            (unsigned long long)info->header_len);
    for (size_t i = 0; i < info->count; i++) {
        const ssm_ckpt_tensor *t = &info->tensors[i];
        char shape[200];
        ssm_shape_str(shape, sizeof shape, t->ndim, t->shape);
        fprintf(f, "  %-48s %-5s %s\n", t->name, t->dtype, shape);
    }
    fprintf(f, "metadata (%zu keys)\n", info->meta.count);
    for (size_t i = 0; i < info->meta.count; i++) {
        const char *v = info->meta.items[i].value;
        size_t len = strlen(v), show = strcspn(v, "\n");
        if (max_value && show > max_value)
            show = max_value;
        if (show < len)
            fprintf(f, "  %s: %.*s ... (%zu bytes)\n", info->meta.items[i].key, (int)show, v, len);
        else
            fprintf(f, "  %s: %s\n", info->meta.items[i].key, v);
    }
}

// --- load ------------------------------------------------------------------

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13); // inf / NaN
    } else if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { // subnormal: normalize
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3FF) << 13;
        }
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

// Reads tensor t of the file into dst [t->numel] as `real`, refusing non-finite values.
static ssm_code read_tensor(FILE *f, const char *path, const ssm_ckpt_info *info,
                            const ssm_ckpt_tensor *t, real *dst, ssm_error *err) {
    size_t es = ssm_ckpt_dtype_size(t->dtype);
    if (fseeko(f, (off_t)(info->data_start + t->begin), SEEK_SET) != 0)
        return ssm_fail(err, SSM_EIO, "%s: tensor '%s': seek failed: %s", path, t->name,
                        strerror(errno));
    unsigned char buf[1 << 16];
    size_t per = sizeof buf / es;
    for (uint64_t done = 0; done < t->numel;) {
        size_t k = t->numel - done < per ? (size_t)(t->numel - done) : per;
        if (fread(buf, es, k, f) != k)
            return ssm_fail(err, SSM_EIO, "%s: tensor '%s': short read (file changed while reading?)",
                            path, t->name);
        for (size_t j = 0; j < k; j++) {
            double x;
            if (es == 8) {
                double d;
                memcpy(&d, buf + 8 * j, 8);
                x = d;
            } else if (es == 4) {
                float s;
                memcpy(&s, buf + 4 * j, 4);
                x = s;
            } else {
                uint16_t h;
                memcpy(&h, buf + 2 * j, 2);
                if (!strcmp(t->dtype, "BF16")) {
                    uint32_t bits = (uint32_t)h << 16;
                    float s;
                    memcpy(&s, &bits, 4);
                    x = s;
                } else {
                    x = half_to_float(h);
                }
            }
            if (!isfinite(x) || !isfinite((real)x))
                return ssm_fail(err, SSM_EDATA, "%s: tensor '%s': element %llu is %g (not finite)",
                                path, t->name, (unsigned long long)(done + j), x);
            dst[done + j] = (real)x;
        }
        done += k;
    }
    return SSM_OK;
}

static int64_t find_tensor(const ssm_ckpt_info *info, const char *name) {
    for (size_t i = 0; i < info->count; i++)
        if (!strcmp(info->tensors[i].name, name))
            return (int64_t)i;
    return -1;
}

static bool is_optim_name(const char *n) {
    return !strncmp(n, SSM_CKPT_OPTIM_M, strlen(SSM_CKPT_OPTIM_M)) ||
           !strncmp(n, SSM_CKPT_OPTIM_V, strlen(SSM_CKPT_OPTIM_V));
}

ssm_code ssm_checkpoint_load(const char *path, ssm_params *p, unsigned flags, ssm_metadata *meta_out,
                             ssm_error *err) {
    int groups = (flags & SSM_CKPT_OPTIMIZER) ? 3 : 1;
    if (!p->data || (groups == 3 && (!p->m || !p->v)))
        return ssm_fail(err, SSM_EINVAL, "%s: the parameter table is not finalized", path);
    FILE *f = NULL;
    ssm_ckpt_info info;
    SSM_TRY(open_and_parse(path, &f, &info, err));
    ssm_code rc = SSM_OK;
    size_t nslots = (size_t)groups * p->count;
    int64_t *slot = malloc((nslots ? nslots : 1) * sizeof *slot); // file tensor of each (group, param)
    char *used = calloc(info.count ? info.count : 1, 1);
    real *nb[3] = {NULL, NULL, NULL};
    if (!slot || !used)
        rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
    for (size_t s = 0; s < nslots && rc == SSM_OK; s++) {
        const ssm_param_info *it = &p->items[s % p->count];
        char name[SSM_PARAM_NAME_MAX + 16], want[200], got[200];
        snprintf(name, sizeof name, "%s%s", group_prefix[s / p->count], it->name);
        int64_t k = find_tensor(&info, name);
        ssm_shape_str(want, sizeof want, it->ndim, it->shape);
        if (k < 0) {
            rc = ssm_fail(err, SSM_ENOTFOUND, "%s: tensor '%s' (shape %s) is missing%s", path, name,
                          want, s >= p->count ? " (saved without optimizer state?)" : "");
            break;
        }
        const ssm_ckpt_tensor *t = &info.tensors[k];
        bool same = t->ndim == it->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == it->shape[d];
        ssm_shape_str(got, sizeof got, t->ndim, t->shape);
        if (!same)
            rc = ssm_fail(err, SSM_EINVAL, "%s: tensor '%s' has shape %s in the file, the model expects %s",
                          path, name, got, want);
        else if (strcmp(t->dtype, "F32") && strcmp(t->dtype, "F64") && strcmp(t->dtype, "F16") &&
                 strcmp(t->dtype, "BF16"))
            rc = ssm_fail(err, SSM_EFORMAT, "%s: tensor '%s' has dtype %s, expected a float (F32, F64, F16, BF16)",
                          path, name, t->dtype);
        slot[s] = k;
        used[k] = 1;
    }
    for (size_t i = 0; i < info.count && rc == SSM_OK; i++)
        if (!used[i] && !(groups == 1 && is_optim_name(info.tensors[i].name)))
            rc = ssm_fail(err, SSM_ENOTFOUND, "%s: tensor '%s' is in the file but not in the model",
                          path, info.tensors[i].name);
    // Read into fresh buffers so that a failure half-way leaves p as it was.
    real *cur[3] = {p->data, p->m, p->v};
    for (int g = 0; g < groups && rc == SSM_OK; g++) {
        nb[g] = malloc((p->total ? p->total : 1) * sizeof(real));
        if (!nb[g])
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory for %zu values", path, p->total);
        else
            memcpy(nb[g], cur[g], p->total * sizeof(real));
    }
    for (size_t s = 0; s < nslots && rc == SSM_OK; s++)
        rc = read_tensor(f, path, &info, &info.tensors[slot[s]],
                         nb[s / p->count] + p->items[s % p->count].offset, err);
    if (rc == SSM_OK) {
        for (int g = 0; g < groups; g++)
            memcpy(cur[g], nb[g], p->total * sizeof(real));
        if (meta_out)
            for (size_t i = 0; i < info.meta.count && rc == SSM_OK; i++)
                rc = ssm_metadata_set(meta_out, info.meta.items[i].key, info.meta.items[i].value, err);
    }
    for (int g = 0; g < 3; g++)
        free(nb[g]);
    free(slot);
    free(used);
    fclose(f);
    ssm_ckpt_info_free(&info);
    return rc;
}
