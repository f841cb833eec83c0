// defines: ssm_config_parse_value, ssm_config_format_value, ssm_config_value_equal,
//          ssm_config_expand_vars, ssm_config_set, ssm_config_equal, ssm_config_free
// One value at a time, by the key table: text -> checked field (shared by the
// file loader and --set, so both refuse the same things with the same words)
// and field -> YAML text (for the resolved config).
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_keys.h"

#define FIELD(c, k) ((char *)(c) + (k)->offset)
#define CFIELD(c, k) ((const char *)(c) + (k)->offset)

static void names_list(const char *const *names, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i] && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %s" : "%s", names[i]);
}

// "[lo, hi]" with open ends shown as ( ), and INT64_MAX as "inf".
static void range_str(const ssm_config_key *k, char *buf, size_t n) {
    if (k->kind == SSM_KEY_INT) {
        if (k->imax == INT64_MAX)
            snprintf(buf, n, ">= %lld", (long long)k->imin);
        else
            snprintf(buf, n, "in [%lld, %lld]", (long long)k->imin, (long long)k->imax);
    } else {
        snprintf(buf, n, "in %c%g, %g%c", (k->flags & SSM_KEY_MIN_OPEN) ? '(' : '[', k->fmin, k->fmax,
                 (k->flags & SSM_KEY_MAX_OPEN) ? ')' : ']');
    }
}

// A decimal integer: optional sign, digits, no leading zeros (YAML 1.1 and
// libcyaml read "010" as octal; refusing it avoids a silent surprise).
static bool parse_int(const char *s, int64_t *out) {
    const char *p = s + (*s == '-' || *s == '+');
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && p[1]))
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, double *out) {
    if (!*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

// The words libcyaml 1.3 reads as booleans, both ways (it reads any other word
// as true, so anything else is refused here first).
static bool parse_bool(const char *s, bool *out) {
    static const char *const t[] = {"true", "yes", "on", "enable", "1"};
    static const char *const f[] = {"false", "no", "off", "disable", "0"};
    for (int i = 0; i < 5; i++) {
        if (!strcasecmp(s, t[i]))
            return *out = true, true;
        if (!strcasecmp(s, f[i]))
            return *out = false, true;
    }
    return false;
}

ssm_code ssm_config_expand_vars(const char *in, char *out, size_t n, ssm_error *err) {
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *add = p;
        size_t len = 1;
        if (p[0] == '$' && p[1] == '$') {
            len = 1;
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            if (!close)
                return ssm_fail(err, SSM_ECONFIG, "unterminated ${ in '%.80s'", in);
            char name[128];
            size_t nl = (size_t)(close - (p + 2));
            if (nl == 0 || nl >= sizeof name)
                return ssm_fail(err, SSM_ECONFIG, "bad variable name in '%.80s'", in);
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            for (size_t i = 0; i < nl; i++)
                if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
                    return ssm_fail(err, SSM_ECONFIG, "bad variable name '%s' in '%.80s'", name, in);
            add = getenv(name);
            if (!add && !strcmp(name, "SSMKIT_DATA"))
                add = "../shared/data";
            if (!add)
                return ssm_fail(err, SSM_ECONFIG,
                                "environment variable %s is not set (used in '%.80s'; write $$ for a "
                                "literal $)",
                                name, in);
            len = strlen(add);
            p = close + 1;
        } else {
            p++;
        }
        if (o + len >= n)
            return ssm_fail(err, SSM_ECONFIG, "'%.40s...' is longer than %zu bytes once expanded", in,
                            n - 1);
        memcpy(out + o, add, len);
        o += len;
    }
    out[o] = '\0';
    return SSM_OK;
}

ssm_code ssm_config_parse_value(ssm_config *c, const ssm_config_key *k, const char *const *entries,
                                size_t n_entries, ssm_error *err) {
    char allowed[512];
    union {
        int64_t i;
        double f;
        bool b;
        int e;
        char s[SSM_CFG_PATH_MAX];
        char list[SSM_CFG_MAX_ORDERS][SSM_CFG_ORDER_MAX];
    } v;
    memset(&v, 0, sizeof v);
    if (k->kind != SSM_KEY_LIST && n_entries != 1)
        return ssm_fail(err, SSM_ECONFIG, "%s: expected one value, got a list", k->path);
    const char *s = k->kind == SSM_KEY_LIST ? "" : entries[0];
    switch (k->kind) {
    case SSM_KEY_INT:
        range_str(k, allowed, sizeof allowed);
        if (!parse_int(s, &v.i))
            return ssm_fail(err, SSM_ECONFIG, "%s: expected an integer %s, got '%.80s'", k->path,
                            allowed, s);
        if (v.i < k->imin || v.i > k->imax)
            return ssm_fail(err, SSM_ECONFIG, "%s: %s is out of range, expected an integer %s",
                            k->path, s, allowed);
        break;
    case SSM_KEY_FLOAT: {
        range_str(k, allowed, sizeof allowed);
        if (!parse_float(s, &v.f))
            return ssm_fail(err, SSM_ECONFIG, "%s: expected a finite number %s, got '%.80s'", k->path,
                            allowed, s);
        bool lo_ok = (k->flags & SSM_KEY_MIN_OPEN) ? v.f > k->fmin : v.f >= k->fmin;
        bool hi_ok = (k->flags & SSM_KEY_MAX_OPEN) ? v.f < k->fmax : v.f <= k->fmax;
        if (!lo_ok || !hi_ok)
            return ssm_fail(err, SSM_ECONFIG, "%s: %s is out of range, expected a number %s",
                            k->path, s, allowed);
        break;
    }
    case SSM_KEY_BOOL:
        if (!parse_bool(s, &v.b))
            return ssm_fail(err, SSM_ECONFIG, "%s: expected a boolean (true or false), got '%.80s'",
                            k->path, s);
        break;
    case SSM_KEY_ENUM: {
        int found = -1;
        for (int i = 0; k->names[i]; i++)
            if (!strcmp(s, k->names[i]))
                found = i;
        if (found < 0) {
            names_list(k->names, allowed, sizeof allowed);
            return ssm_fail(err, SSM_ECONFIG, "%s: '%.80s' is not one of: %s", k->path, s, allowed);
        }
        v.e = found;
        break;
    }
    case SSM_KEY_STRING: {
        if (k->flags & SSM_KEY_EXPAND) {
            ssm_code rc = ssm_config_expand_vars(s, v.s, k->size, err);
            if (rc != SSM_OK)
                return ssm_error_prefix(err, "%s: ", k->path);
        } else if (strlen(s) >= k->size) {
            return ssm_fail(err, SSM_ECONFIG, "%s: '%.40s...' is too long, at most %zu bytes",
                            k->path, s, k->size - 1);
        } else {
            memcpy(v.s, s, strlen(s) + 1);
        }
        char why[256];
        if (k->check && !k->check(v.s, why, sizeof why))
            return ssm_fail(err, SSM_ECONFIG, "%s: %s, expected %s", k->path, why, k->allowed);
        break;
    }
    case SSM_KEY_LIST: {
        if (n_entries < 1 || n_entries > SSM_CFG_MAX_ORDERS)
            return ssm_fail(err, SSM_ECONFIG, "%s: %zu entries, expected %s", k->path, n_entries,
                            k->allowed);
        for (size_t i = 0; i < n_entries; i++) {
            char why[256];
            if (strlen(entries[i]) >= SSM_CFG_ORDER_MAX)
                return ssm_fail(err, SSM_ECONFIG, "%s[%zu]: '%.40s' is longer than %d bytes",
                                k->path, i, entries[i], SSM_CFG_ORDER_MAX - 1);
            if (k->check && !k->check(entries[i], why, sizeof why))
                return ssm_fail(err, SSM_ECONFIG, "%s[%zu]: %s, expected %s", k->path, i, why,
                                k->allowed);
            memcpy(v.list[i], entries[i], strlen(entries[i]) + 1);
        }
        *(uint32_t *)((char *)c + k->count_offset) = (uint32_t)n_entries;
        break;
    }
    }
    switch (k->kind) {
    case SSM_KEY_INT: memcpy(FIELD(c, k), &v.i, sizeof v.i); break;
    case SSM_KEY_FLOAT: memcpy(FIELD(c, k), &v.f, sizeof v.f); break;
    case SSM_KEY_BOOL: memcpy(FIELD(c, k), &v.b, sizeof v.b); break;
    case SSM_KEY_ENUM: memcpy(FIELD(c, k), &v.e, sizeof v.e); break;
    case SSM_KEY_STRING:
    case SSM_KEY_LIST: memcpy(FIELD(c, k), &v, k->size); break;
    }
    return SSM_OK;
}

// Shortest %.Ng that reads back to the same double.
static void format_double(double x, char *buf, size_t n) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

// A YAML double-quoted scalar; with `dollars`, $ is doubled so that ${VAR}
// expansion on reload gives back the same text.
static void quote(const char *s, bool dollars, char *buf, size_t n) {
    size_t o = 0;
    if (n < 3) {
        buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < n; p++) {
        if (*p == '"' || *p == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", *p);
        } else if (*p == '$' && dollars) {
            buf[o++] = '$';
            buf[o++] = '$';
        } else {
            buf[o++] = (char)*p;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

void ssm_config_format_value(const ssm_config *c, const ssm_config_key *k, char *buf, size_t n) {
    const char *f = CFIELD(c, k);
    switch (k->kind) {
    case SSM_KEY_INT: snprintf(buf, n, "%lld", (long long)*(const int64_t *)f); break;
    case SSM_KEY_FLOAT: format_double(*(const double *)f, buf, n); break;
    case SSM_KEY_BOOL: snprintf(buf, n, "%s", *(const bool *)f ? "true" : "false"); break;
    case SSM_KEY_ENUM: snprintf(buf, n, "%s", k->names[*(const int *)f]); break;
    case SSM_KEY_STRING: quote(f, k->flags & SSM_KEY_EXPAND, buf, n); break;
    case SSM_KEY_LIST: {
        uint32_t count = *(const uint32_t *)((const char *)c + k->count_offset);
        size_t o = (size_t)snprintf(buf, n, "[");
        for (uint32_t i = 0; i < count && o < n; i++) {
            char q[2 * SSM_CFG_ORDER_MAX + 8];
            quote(f + (size_t)i * SSM_CFG_ORDER_MAX, false, q, sizeof q);
            o += (size_t)snprintf(buf + o, n - o, i ? ", %s" : "%s", q);
        }
        if (o < n)
            snprintf(buf + o, n - o, "]");
        break;
    }
    }
}

bool ssm_config_value_equal(const ssm_config *a, const ssm_config *b, const ssm_config_key *k) {
    const char *fa = CFIELD(a, k), *fb = CFIELD(b, k);
    switch (k->kind) {
    case SSM_KEY_INT: return *(const int64_t *)fa == *(const int64_t *)fb;
    case SSM_KEY_FLOAT: return *(const double *)fa == *(const double *)fb;
    case SSM_KEY_BOOL: return *(const bool *)fa == *(const bool *)fb;
    case SSM_KEY_ENUM: return *(const int *)fa == *(const int *)fb;
    case SSM_KEY_STRING: return strcmp(fa, fb) == 0;
    case SSM_KEY_LIST: {
        uint32_t na = *(const uint32_t *)((const char *)a + k->count_offset);
        uint32_t nb = *(const uint32_t *)((const char *)b + k->count_offset);
        if (na != nb)
            return false;
        for (uint32_t i = 0; i < na; i++)
            if (strcmp(fa + (size_t)i * SSM_CFG_ORDER_MAX, fb + (size_t)i * SSM_CFG_ORDER_MAX))
                return false;
        return true;
    }
    }
    return false;
}

bool ssm_config_equal(const ssm_config *a, const ssm_config *b, char *key, size_t n) {
    for (size_t i = 0; i < ssm_config_nkeys; i++)
        if (!ssm_config_value_equal(a, b, &ssm_config_keys[i])) {
            if (key && n)
                snprintf(key, n, "%s", ssm_config_keys[i].path);
            return false;
        }
    return true;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

// Removes one pair of matching surrounding quotes (no escapes: a shell already
// handled those).
static char *unquote(char *s) {
    size_t len = strlen(s);
    if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
        s[len - 1] = '\0';
        return s + 1;
    }
    return s;
}

ssm_code ssm_config_set(ssm_config *c, const char *assignment, ssm_error *err) {
    char buf[2048];
    if (strlen(assignment) >= sizeof buf)
        return ssm_fail(err, SSM_ECONFIG, "--set: assignment longer than %zu bytes", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", assignment);
    char *eq = strchr(buf, '=');
    if (!eq)
        return ssm_fail(err, SSM_ECONFIG, "--set '%s': expected section.key=value", assignment);
    *eq = '\0';
    char *key = trim(buf), *val = trim(eq + 1);
    const ssm_config_key *k = ssm_config_key_find(key);
    if (!k) {
        char near[128];
        ssm_config_key_suggest(key, near, sizeof near);
        return ssm_fail(err, SSM_ECONFIG, "--set '%s': unknown key '%s'%s%s%s (docs/config.md lists them)",
                        assignment, key, *near ? " (did you mean '" : "", near, *near ? "'?)" : "");
    }
    const char *entries[SSM_CFG_MAX_ORDERS + 1];
    size_t ne = 0;
    if (k->kind == SSM_KEY_LIST) {
        size_t len = strlen(val);
        if (len >= 2 && val[0] == '[' && val[len - 1] == ']') {
            val[len - 1] = '\0';
            val = trim(val + 1);
        }
        // An empty value gives no entries and an empty entry stays empty; the
        // list checks refuse both.
        for (char *tok = val; *val && tok && ne <= SSM_CFG_MAX_ORDERS;) {
            char *comma = strchr(tok, ',');
            if (comma)
                *comma = '\0';
            entries[ne++] = unquote(trim(tok));
            tok = comma ? comma + 1 : NULL;
        }
    } else {
        entries[ne++] = unquote(val);
    }
    ssm_config tmp = *c;
    ssm_code rc = ssm_config_parse_value(&tmp, k, entries, ne, err);
    if (rc != SSM_OK)
        return ssm_error_prefix(err, "--set '%s': ", assignment);
    *c = tmp;
    return SSM_OK;
}

void ssm_config_free(ssm_config *c) { (void)c; }
