// defines: the string metadata table (see metadata.h)
#include "core/metadata.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ssm_metadata_init(ssm_metadata *m) { memset(m, 0, sizeof *m); }

void ssm_metadata_free(ssm_metadata *m) {
    for (size_t i = 0; i < m->count; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

ssm_code ssm_metadata_set(ssm_metadata *m, const char *key, const char *value, ssm_error *err) {
    char *v = strdup(value);
    if (!v)
        return ssm_fail(err, SSM_ENOMEM, "out of memory setting metadata %s", key);
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->items[i].key, key)) {
            free(m->items[i].value);
            m->items[i].value = v;
            return SSM_OK;
        }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return ssm_fail(err, SSM_ENOMEM, "out of memory setting metadata %s", key);
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        ssm_meta_entry *items = realloc(m->items, cap * sizeof *items);
        if (!items) {
            free(k);
            free(v);
            return ssm_fail(err, SSM_ENOMEM, "out of memory setting metadata %s", key);
        }
        m->items = items;
        m->cap = cap;
    }
    m->items[m->count].key = k;
    m->items[m->count].value = v;
    m->count++;
    return SSM_OK;
}

ssm_code ssm_metadata_set_int(ssm_metadata *m, const char *key, int64_t v, ssm_error *err) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return ssm_metadata_set(m, key, buf, err);
}

ssm_code ssm_metadata_set_double(ssm_metadata *m, const char *key, double v, ssm_error *err) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return ssm_metadata_set(m, key, buf, err);
}

ssm_code ssm_metadata_set_hex(ssm_metadata *m, const char *key, const void *bytes, size_t n,
                              ssm_error *err) {
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory setting metadata %s", key);
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = '\0';
    ssm_code rc = ssm_metadata_set(m, key, s, err);
    free(s);
    return rc;
}

const char *ssm_metadata_get(const ssm_metadata *m, const char *key) {
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->items[i].key, key))
            return m->items[i].value;
    return NULL;
}

static ssm_code lookup(const ssm_metadata *m, const char *key, const char **v, ssm_error *err) {
    *v = ssm_metadata_get(m, key);
    if (!*v)
        return ssm_fail(err, SSM_ENOTFOUND, "metadata key '%s' is missing", key);
    return SSM_OK;
}

ssm_code ssm_metadata_get_int(const ssm_metadata *m, const char *key, int64_t *out, ssm_error *err) {
    const char *v;
    SSM_TRY(lookup(m, key, &v, err));
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return ssm_fail(err, SSM_EFORMAT, "metadata '%s' = '%.40s' is not an integer", key, v);
    *out = x;
    return SSM_OK;
}

ssm_code ssm_metadata_get_double(const ssm_metadata *m, const char *key, double *out, ssm_error *err) {
    const char *v;
    SSM_TRY(lookup(m, key, &v, err));
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end)
        return ssm_fail(err, SSM_EFORMAT, "metadata '%s' = '%.40s' is not a number", key, v);
    *out = x;
    return SSM_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssm_code ssm_metadata_get_hex(const ssm_metadata *m, const char *key, void *bytes, size_t n,
                              ssm_error *err) {
    const char *v;
    SSM_TRY(lookup(m, key, &v, err));
    size_t len = strlen(v);
    if (len != 2 * n)
        return ssm_fail(err, SSM_EFORMAT, "metadata '%s': %zu hex digits, expected %zu", key, len,
                        2 * n);
    for (size_t i = 0; i < len; i++) // check first: on error *bytes is untouched
        if (hexval(v[i]) < 0)
            return ssm_fail(err, SSM_EFORMAT, "metadata '%s': not hex at character %zu", key, i);
    unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(hexval(v[2 * i]) << 4 | hexval(v[2 * i + 1]));
    return SSM_OK;
}
