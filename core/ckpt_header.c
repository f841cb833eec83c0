// defines: ssm_ckpt_header_parse, ssm_ckpt_json_string, ssm_ckpt_dtype_size, ssm_ckpt_info_free
// A recursive-descent reader for the safetensors header only: no general JSON
// values (no floats, booleans, nulls or nesting beyond the format), so there
// is little to get wrong and every refusal can say exactly what was expected.
#include "core/ckpt_header.h"

#include <stdlib.h>
#include <string.h>

size_t ssm_ckpt_dtype_size(const char *dtype) {
    static const struct { const char *name; size_t size; } t[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1},
        {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(dtype, t[i].name))
            return t[i].size;
    return 0;
}

void ssm_ckpt_info_free(ssm_ckpt_info *info) {
    for (size_t i = 0; i < info->count; i++)
        free(info->tensors[i].name);
    free(info->tensors);
    ssm_metadata_free(&info->meta);
    memset(info, 0, sizeof *info);
}

typedef struct {
    const char *s;
    size_t n, i;
    const char *file;
    ssm_error *err;
} jp;

static ssm_code jfail(jp *p, const char *what) {
    return ssm_fail(p->err, SSM_EFORMAT, "%s: safetensors header, byte %zu: %s", p->file, p->i, what);
}

static void skip_ws(jp *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int peek(jp *p) {
    skip_ws(p);
    return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static ssm_code eat(jp *p, char c, const char *what) {
    if (peek(p) != c)
        return jfail(p, what);
    p->i++;
    return SSM_OK;
}

static int hex4(const char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

typedef struct {
    char *b;
    size_t len, cap;
} sbuf;

static int sb_put(sbuf *b, char c) {
    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char *nb = realloc(b->b, cap);
        if (!nb)
            return 0;
        b->b = nb;
        b->cap = cap;
    }
    b->b[b->len++] = c;
    b->b[b->len] = '\0';
    return 1;
}

static int sb_utf8(sbuf *b, unsigned cp) {
    if (cp < 0x80)
        return sb_put(b, (char)cp);
    if (cp < 0x800)
        return sb_put(b, (char)(0xC0 | cp >> 6)) && sb_put(b, (char)(0x80 | (cp & 0x3F)));
    if (cp < 0x10000)
        return sb_put(b, (char)(0xE0 | cp >> 12)) && sb_put(b, (char)(0x80 | ((cp >> 6) & 0x3F))) &&
               sb_put(b, (char)(0x80 | (cp & 0x3F)));
    return sb_put(b, (char)(0xF0 | cp >> 18)) && sb_put(b, (char)(0x80 | ((cp >> 12) & 0x3F))) &&
           sb_put(b, (char)(0x80 | ((cp >> 6) & 0x3F))) && sb_put(b, (char)(0x80 | (cp & 0x3F)));
}

// A JSON string into a malloc'd C string. \u0000 is refused: names and
// metadata are C strings, and a hidden NUL would make two names look equal.
static ssm_code parse_string(jp *p, char **out, const char *what) {
    *out = NULL;
    if (peek(p) != '"')
        return jfail(p, what);
    p->i++;
    sbuf b = {0};
    if (!sb_put(&b, 'x'))
        return ssm_fail(p->err, SSM_ENOMEM, "%s: out of memory reading the header", p->file);
    b.len = 0;
    b.b[0] = '\0';
    for (;;) {
        if (p->i >= p->n) {
            free(b.b);
            return jfail(p, "unterminated string");
        }
        unsigned char c = (unsigned char)p->s[p->i++];
        if (c == '"')
            break;
        if (c < 0x20) {
            free(b.b);
            return jfail(p, "control character inside a string");
        }
        unsigned cp = c;
        if (c == '\\') {
            if (p->i >= p->n) {
                free(b.b);
                return jfail(p, "unterminated string");
            }
            char e = p->s[p->i++];
            switch (e) {
            case '"': case '\\': case '/': cp = (unsigned char)e; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                int v = p->i + 4 <= p->n ? hex4(p->s + p->i) : -1;
                if (v < 0) {
                    free(b.b);
                    return jfail(p, "bad \\u escape");
                }
                p->i += 4;
                cp = (unsigned)v;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    free(b.b);
                    return jfail(p, "lone low surrogate in \\u escape");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int lo = p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u'
                                 ? hex4(p->s + p->i + 2) : -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        free(b.b);
                        return jfail(p, "high surrogate without its low half");
                    }
                    p->i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
                }
                if (cp == 0) {
                    free(b.b);
                    return jfail(p, "\\u0000 inside a string");
                }
                break;
            }
            default:
                free(b.b);
                return jfail(p, "unknown escape in a string");
            }
            if (!sb_utf8(&b, cp)) {
                free(b.b);
                return ssm_fail(p->err, SSM_ENOMEM, "%s: out of memory reading the header", p->file);
            }
            continue;
        }
        if (!sb_put(&b, (char)c)) {
            free(b.b);
            return ssm_fail(p->err, SSM_ENOMEM, "%s: out of memory reading the header", p->file);
        }
    }
    *out = b.b;
    return SSM_OK;
}

static ssm_code parse_u64(jp *p, uint64_t *out, const char *what) {
    int c = peek(p);
    if (c < '0' || c > '9')
        return jfail(p, what);
    if (c == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
        return jfail(p, "leading zero in an integer");
    uint64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return jfail(p, "integer too large");
        v = v * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return jfail(p, "expected an integer, got a fraction or exponent");
    *out = v;
    return SSM_OK;
}

static ssm_code parse_metadata(jp *p, ssm_metadata *m) {
    SSM_TRY(eat(p, '{', "expected '{' to open __metadata__"));
    if (peek(p) == '}') {
        p->i++;
        return SSM_OK;
    }
    for (;;) {
        char *k, *v;
        SSM_TRY(parse_string(p, &k, "expected a metadata key (a string)"));
        ssm_code rc = eat(p, ':', "expected ':' after a metadata key");
        if (rc == SSM_OK)
            rc = parse_string(p, &v, "expected a string value: __metadata__ maps strings to strings");
        if (rc == SSM_OK) {
            if (ssm_metadata_get(m, k)) {
                char msg[200];
                snprintf(msg, sizeof msg, "metadata key '%.60s' given twice", k);
                rc = jfail(p, msg);
            } else {
                rc = ssm_metadata_set(m, k, v, p->err);
            }
            free(v);
        }
        free(k);
        SSM_TRY(rc);
        int c = peek(p);
        p->i++;
        if (c == '}')
            return SSM_OK;
        if (c != ',') {
            p->i--;
            return jfail(p, "expected ',' or '}' in __metadata__");
        }
    }
}

static ssm_code tensor_fail(jp *p, const char *name, const char *what) {
    char msg[300];
    snprintf(msg, sizeof msg, "tensor '%.100s': %s", name, what);
    return jfail(p, msg);
}

static ssm_code parse_tensor(jp *p, ssm_ckpt_tensor *t) {
    SSM_TRY(eat(p, '{', "expected '{' to open a tensor entry"));
    int have_dtype = 0, have_shape = 0, have_off = 0;
    for (;;) {
        char *k;
        SSM_TRY(parse_string(p, &k, "expected a key of a tensor entry (dtype, shape, data_offsets)"));
        ssm_code rc = eat(p, ':', "expected ':' after a key");
        int *seen = !strcmp(k, "dtype") ? &have_dtype : !strcmp(k, "shape") ? &have_shape
                  : !strcmp(k, "data_offsets") ? &have_off : NULL;
        if (rc == SSM_OK && !seen)
            rc = tensor_fail(p, t->name, "unknown key (expected dtype, shape, data_offsets)");
        else if (rc == SSM_OK && *seen)
            rc = tensor_fail(p, t->name, "key given twice");
        if (rc == SSM_OK && seen == &have_dtype) {
            char *d;
            rc = parse_string(p, &d, "expected the dtype string");
            if (rc == SSM_OK) {
                if (strlen(d) >= sizeof t->dtype || !ssm_ckpt_dtype_size(d))
                    rc = tensor_fail(p, t->name, "unknown dtype");
                else
                    snprintf(t->dtype, sizeof t->dtype, "%s", d);
                free(d);
            }
        } else if (rc == SSM_OK && seen == &have_shape) {
            rc = eat(p, '[', "expected '[' to open the shape");
            if (rc == SSM_OK && peek(p) == ']') {
                p->i++;
            } else {
                while (rc == SSM_OK) {
                    uint64_t d = 0;
                    if (t->ndim == SSM_CKPT_MAX_DIMS) {
                        rc = tensor_fail(p, t->name, "more than 8 dimensions");
                        break;
                    }
                    rc = parse_u64(p, &d, "expected a dimension (a non-negative integer)");
                    if (rc == SSM_OK && d > (uint64_t)INT64_MAX)
                        rc = tensor_fail(p, t->name, "dimension too large");
                    if (rc != SSM_OK)
                        break;
                    t->shape[t->ndim++] = (int64_t)d;
                    int c = peek(p);
                    p->i++;
                    if (c == ']')
                        break;
                    if (c != ',') {
                        p->i--;
                        rc = jfail(p, "expected ',' or ']' in a shape");
                    }
                }
            }
        } else if (rc == SSM_OK) {
            rc = eat(p, '[', "expected '[' to open data_offsets");
            if (rc == SSM_OK)
                rc = parse_u64(p, &t->begin, "expected the begin offset");
            if (rc == SSM_OK)
                rc = eat(p, ',', "expected ',' between the two data_offsets");
            if (rc == SSM_OK)
                rc = parse_u64(p, &t->end, "expected the end offset");
            if (rc == SSM_OK)
                rc = eat(p, ']', "expected ']': data_offsets has two entries");
        }
        if (rc == SSM_OK)
            *seen = 1;
        free(k);
        SSM_TRY(rc);
        int c = peek(p);
        p->i++;
        if (c == '}')
            break;
        if (c != ',') {
            p->i--;
            return jfail(p, "expected ',' or '}' in a tensor entry");
        }
    }
    if (!have_dtype || !have_shape || !have_off)
        return tensor_fail(p, t->name, !have_dtype ? "no dtype" : !have_shape ? "no shape"
                                                                              : "no data_offsets");
    return SSM_OK;
}

typedef struct {
    uint64_t begin, end;
    size_t idx;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

// Byte ranges against dtype x shape and against the data section; the
// tensors must tile the data exactly (the safetensors rule: no holes, no overlaps).
static ssm_code check_ranges(const char *file, ssm_ckpt_info *info, uint64_t data_len, ssm_error *err) {
    span *s = malloc((info->count ? info->count : 1) * sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory checking the header", file);
    ssm_code rc = SSM_OK;
    for (size_t i = 0; i < info->count && rc == SSM_OK; i++) {
        ssm_ckpt_tensor *t = &info->tensors[i];
        uint64_t numel = 1, bytes;
        for (int d = 0; d < t->ndim && rc == SSM_OK; d++)
            if (__builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel))
                rc = ssm_fail(err, SSM_EFORMAT, "%s: tensor '%s': shape overflows", file, t->name);
        if (rc == SSM_OK && __builtin_mul_overflow(numel, ssm_ckpt_dtype_size(t->dtype), &bytes))
            rc = ssm_fail(err, SSM_EFORMAT, "%s: tensor '%s': size overflows", file, t->name);
        if (rc != SSM_OK)
            break;
        t->numel = numel;
        char shape[200];
        ssm_shape_str(shape, sizeof shape, t->ndim, t->shape);
        if (t->begin > t->end || t->end > data_len)
            rc = ssm_fail(err, SSM_EFORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu data bytes "
                          "(truncated file?)", file, t->name, (unsigned long long)t->begin,
                          (unsigned long long)t->end, (unsigned long long)data_len);
        else if (t->end - t->begin != bytes)
            rc = ssm_fail(err, SSM_EFORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, %s x %s needs %llu",
                          file, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                          (unsigned long long)(t->end - t->begin), t->dtype, shape,
                          (unsigned long long)bytes);
        s[i] = (span){t->begin, t->end, i};
    }
    if (rc == SSM_OK) {
        qsort(s, info->count, sizeof *s, span_cmp);
        uint64_t pos = 0;
        for (size_t i = 0; i < info->count && rc == SSM_OK; i++) {
            if (s[i].begin < pos)
                rc = ssm_fail(err, SSM_EFORMAT, "%s: tensors '%s' and '%s' overlap", file,
                              info->tensors[s[i - 1].idx].name, info->tensors[s[i].idx].name);
            else if (s[i].begin > pos)
                rc = ssm_fail(err, SSM_EFORMAT, "%s: data bytes [%llu, %llu) belong to no tensor", file,
                              (unsigned long long)pos, (unsigned long long)s[i].begin);
            pos = s[i].end;
        }
        if (rc == SSM_OK && pos != data_len)
            rc = ssm_fail(err, SSM_EFORMAT,
                          "%s: data bytes [%llu, %llu) at the end belong to no tensor", file,
                          (unsigned long long)pos, (unsigned long long)data_len);
    }
    free(s);
    return rc;
}

static ssm_code parse_top(jp *p, ssm_ckpt_info *info) {
    SSM_TRY(eat(p, '{', "expected '{': the header is a JSON object"));
    size_t cap = 0;
    int have_meta = 0;
    if (peek(p) == '}') {
        p->i++;
    } else {
        for (;;) {
            char *name;
            SSM_TRY(parse_string(p, &name, "expected a tensor name (a string)"));
            ssm_code rc = eat(p, ':', "expected ':' after a tensor name");
            if (rc == SSM_OK && !strcmp(name, "__metadata__")) {
                rc = have_meta ? jfail(p, "__metadata__ given twice") : parse_metadata(p, &info->meta);
                have_meta = 1;
                free(name);
                name = NULL;
            } else if (rc == SSM_OK) {
                for (size_t i = 0; i < info->count && rc == SSM_OK; i++)
                    if (!strcmp(info->tensors[i].name, name))
                        rc = tensor_fail(p, name, "name given twice");
                if (rc == SSM_OK && info->count == cap) {
                    size_t ncap = cap ? 2 * cap : 64;
                    ssm_ckpt_tensor *t = realloc(info->tensors, ncap * sizeof *t);
                    if (!t)
                        rc = ssm_fail(p->err, SSM_ENOMEM, "%s: out of memory reading the header",
                                      p->file);
                    else {
                        info->tensors = t;
                        cap = ncap;
                    }
                }
                if (rc == SSM_OK) {
                    ssm_ckpt_tensor *t = &info->tensors[info->count++];
                    memset(t, 0, sizeof *t);
                    t->name = name;
                    name = NULL;
                    rc = parse_tensor(p, t);
                }
            }
            free(name);
            SSM_TRY(rc);
            int c = peek(p);
            p->i++;
            if (c == '}')
                break;
            if (c != ',') {
                p->i--;
                return jfail(p, "expected ',' or '}' after an entry");
            }
        }
    }
    if (peek(p) != -1)
        return jfail(p, "bytes after the header object (only space padding may follow)");
    return SSM_OK;
}

ssm_code ssm_ckpt_header_parse(const char *file, const char *json, size_t n, uint64_t data_len,
                               ssm_ckpt_info *info, ssm_error *err) {
    memset(info, 0, sizeof *info);
    ssm_metadata_init(&info->meta);
    jp p = {.s = json, .n = n, .i = 0, .file = file, .err = err};
    ssm_code rc = parse_top(&p, info);
    if (rc == SSM_OK)
        rc = check_ranges(file, info, data_len, err);
    if (rc != SSM_OK)
        ssm_ckpt_info_free(info);
    return rc;
}

void ssm_ckpt_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}
