// defines: ssm_config_load, ssm_config_validate, ssm_config_resolve, ssm_config_to_yaml_string,
//          ssm_config_write, ssm_config_write_reference
// Loading is two passes over the same bytes. (1) libyaml builds a node tree
// that keeps line numbers; every key is looked up in the key table and every
// value checked by it (unknown key, wrong type, range, enum, duplicates), so
// errors name file:line and the key path. (2) libcyaml loads the file into an
// ssm_config by the schema; the keys the file has are copied over the caller's
// config, and each is compared with pass 1's reading so the two can never
// silently disagree.
#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/atomic_file.h"
#include "core/config_keys.h"

typedef struct {
    const char *file;
    yaml_document_t *doc;
    ssm_config *scratch; // pass 1 parses into this copy
    int *lines;          // [ssm_config_nkeys] line of each key in the file, 0 = absent
} prepass;

static int key_index(const ssm_config_key *k) { return (int)(k - ssm_config_keys); }

static const char *node_kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

// "d_model, n_layers, ..." : the distinct next components of keys under prefix.
static void keys_under(const char *prefix, char *buf, size_t n) {
    size_t used = 0, plen = strlen(prefix);
    buf[0] = '\0';
    const char *last = "";
    size_t last_len = 0;
    for (size_t i = 0; i < ssm_config_nkeys && used < n; i++) {
        const char *p = ssm_config_keys[i].path;
        if (plen && (strncmp(p, prefix, plen) || p[plen] != '.'))
            continue;
        const char *comp = plen ? p + plen + 1 : p;
        size_t clen = strcspn(comp, ".");
        if (clen == last_len && !strncmp(comp, last, clen))
            continue;
        used += (size_t)snprintf(buf + used, n - used, "%s%.*s", used ? ", " : "", (int)clen, comp);
        last = comp;
        last_len = clen;
    }
}

static bool is_section(const char *path) {
    size_t len = strlen(path);
    for (size_t i = 0; i < ssm_config_nkeys; i++)
        if (!strncmp(ssm_config_keys[i].path, path, len) && ssm_config_keys[i].path[len] == '.')
            return true;
    return false;
}

static ssm_code check_leaf(prepass *pp, const ssm_config_key *k, yaml_node_t *v, int line,
                           ssm_error *err) {
    const char *entries[SSM_CFG_MAX_ORDERS + 1];
    size_t ne = 0;
    if (k->kind == SSM_KEY_LIST) {
        if (v->type != YAML_SEQUENCE_NODE)
            return ssm_fail(err, SSM_ECONFIG, "%s:%d: %s: expected a list like [a, b], got %s",
                            pp->file, line, k->path, node_kind(v));
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(pp->doc, *it);
            if (!e || e->type != YAML_SCALAR_NODE)
                return ssm_fail(err, SSM_ECONFIG, "%s:%d: %s: list entries must be names, got %s",
                                pp->file, line, k->path, e ? node_kind(e) : "nothing");
            if (ne == SSM_CFG_MAX_ORDERS + 1)
                break; // one past the limit is enough for the count check to refuse
            entries[ne++] = (const char *)e->data.scalar.value;
        }
    } else {
        if (v->type != YAML_SCALAR_NODE)
            return ssm_fail(err, SSM_ECONFIG, "%s:%d: %s: expected a single value, got %s",
                            pp->file, line, k->path, node_kind(v));
        entries[ne++] = (const char *)v->data.scalar.value;
    }
    if (ssm_config_parse_value(pp->scratch, k, entries, ne, err) != SSM_OK)
        return ssm_error_prefix(err, "%s:%d: ", pp->file, line);
    return SSM_OK;
}

static ssm_code walk_mapping(prepass *pp, yaml_node_t *m, const char *prefix, ssm_error *err) {
    int mline = (int)m->start_mark.line + 1;
    if (m->type != YAML_MAPPING_NODE)
        return ssm_fail(err, SSM_ECONFIG, "%s:%d: %s: expected a mapping of keys, got %s", pp->file,
                        mline, *prefix ? prefix : "the top level", node_kind(m));
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(pp->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(pp->doc, pr->value);
        int line = kn ? (int)kn->start_mark.line + 1 : mline;
        if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
            return ssm_fail(err, SSM_ECONFIG, "%s:%d: keys must be plain names", pp->file, line);
        const char *name = (const char *)kn->data.scalar.value;
        char path[256];
        int w = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
        if (w < 0 || (size_t)w >= sizeof path)
            return ssm_fail(err, SSM_ECONFIG, "%s:%d: key '%.60s...' too long", pp->file, line, name);
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < pr; q++) {
            yaml_node_t *qk = yaml_document_get_node(pp->doc, q->key);
            if (qk && qk->type == YAML_SCALAR_NODE && !strcmp((const char *)qk->data.scalar.value, name))
                return ssm_fail(err, SSM_ECONFIG, "%s:%d: %s: duplicate key (first at line %d)",
                                pp->file, line, path, (int)qk->start_mark.line + 1);
        }
        const ssm_config_key *k = ssm_config_key_find(path);
        if (k) {
            SSM_TRY(check_leaf(pp, k, vn, line, err));
            pp->lines[key_index(k)] = line;
        } else if (is_section(path)) {
            SSM_TRY(walk_mapping(pp, vn, path, err));
        } else {
            char near[128], known[600];
            ssm_config_key_suggest(path, near, sizeof near);
            keys_under(prefix, known, sizeof known);
            return ssm_fail(err, SSM_ECONFIG, "%s:%d: unknown key '%s'%s%s%s; %s%s has: %s", pp->file,
                            line, path, *near ? " (did you mean '" : "", near, *near ? "'?)" : "",
                            *prefix ? prefix : "the top level", *prefix ? "" : "", known);
        }
    }
    return SSM_OK;
}

// A config is a page (the largest in configs/ is under 2 KB; the deepest nests 4 levels:
// section, key, subsection, list). Bigger or deeper text is refused before libyaml sees
// it: libyaml's time grows with the square of the nesting (a 40,000-deep file took 15 s).
#define CONFIG_MAX_BYTES ((size_t)1 << 20)
#define CONFIG_MAX_DEPTH 16

// The line where the nesting of YAML text b [n] first exceeds `limit`, or 0. Measured
// without parsing: block levels (a deeper indentation; each "- " or "? " entry) plus
// flow levels ('[' or '{' opening a node, outside quoted scalars, block scalars and
// comments). It may overcount text that libyaml would refuse anyway; it never
// undercounts a file libyaml accepts.
static int yaml_depth_exceeded(const char *b, size_t n, int limit) {
    int stack[CONFIG_MAX_DEPTH + 2], depth = 0, flow = 0, line = 1;
    size_t i = 0;
    while (i < n) {
        int col = 0, node_start = 1;
        while (i < n && b[i] == ' ') {
            i++;
            col++;
        }
        if (i < n && b[i] != '\n' && b[i] != '\r' && b[i] != '#' && !flow) {
            while (depth > 0 && stack[depth - 1] > col) // a block level ends
                depth--;
            if (depth == 0 || stack[depth - 1] < col) {
                stack[depth++] = col;
                if (depth > limit)
                    return line;
            }
            // "- - a": each entry marker opens a level at its content's column
            while (i < n && (b[i] == '-' || b[i] == '?') &&
                   (i + 1 == n || b[i + 1] == ' ' || b[i + 1] == '\n' || b[i + 1] == '\r')) {
                i++;
                col++;
                while (i < n && b[i] == ' ') {
                    i++;
                    col++;
                }
                stack[depth++] = col;
                if (depth > limit)
                    return line;
            }
        }
        int line_col = col; // a block scalar's lines are those indented deeper than this
        while (i < n && b[i] != '\n') {
            char c = b[i];
            if (c == '#' && (node_start || b[i - 1] == ' ' || b[i - 1] == '\t')) {
                while (i < n && b[i] != '\n')
                    i++;
                break;
            }
            if ((c == '\'' || c == '"') && (node_start || flow)) { // quoted, maybe multi-line
                for (i++; i < n; i++) {
                    if (b[i] == '\n')
                        line++;
                    else if (c == '"' && b[i] == '\\')
                        i++;
                    else if (b[i] == c && !(c == '\'' && i + 1 < n && b[i + 1] == '\''))
                        break;
                    else if (b[i] == c)
                        i++; // '' inside single quotes
                }
                i++;
                node_start = 0;
                continue;
            }
            if ((c == '|' || c == '>') && node_start && !flow) { // block scalar: skip its lines
                while (i < n && b[i] != '\n')
                    i++;
                while (i < n) { // at a '\n': is the next line part of the scalar?
                    size_t j = i + 1;
                    int ind = 0;
                    while (j < n && b[j] == ' ') {
                        j++;
                        ind++;
                    }
                    if (j < n && b[j] != '\n' && b[j] != '\r' && ind <= line_col)
                        break;
                    line++;
                    i = j;
                    while (i < n && b[i] != '\n')
                        i++;
                }
                break;
            }
            if ((c == '[' || c == '{') && (node_start || flow)) {
                flow++;
                if (depth + flow > limit)
                    return line;
            } else if ((c == ']' || c == '}') && flow) {
                flow--;
            }
            // a node starts after ": ", and in flow after ", " and an opening bracket
            node_start = c == ' ' || c == '\t' ? node_start
                         : c == ':' || (flow && (c == ',' || c == '[' || c == '{'));
            if (c == ':' && !flow && i + 1 < n && b[i + 1] != ' ' && b[i + 1] != '\n')
                node_start = 0; // "a:b" is a plain scalar
            i++;
        }
        if (i < n) { // the '\n'
            i++;
            line++;
        }
    }
    return 0;
}

static ssm_code read_file(const char *path, char **buf, size_t *len, ssm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open config: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n > CONFIG_MAX_BYTES) {
            free(b);
            fclose(f);
            return ssm_fail(err, SSM_ECONFIG, "%s: larger than %zu KiB; a config is a page of "
                            "YAML", path, CONFIG_MAX_BYTES >> 10);
        }
        if (n < cap)
            break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int bad = b && ferror(f);
    fclose(f);
    if (!b)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory reading config", path);
    if (bad) {
        free(b);
        return ssm_fail(err, SSM_EIO, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return SSM_OK;
}

static ssm_code yaml_problem(const char *file, yaml_parser_t *p, ssm_error *err) {
    return ssm_fail(err, SSM_ECONFIG, "%s:%d:%d: malformed YAML: %s%s%s", file,
                    (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1,
                    p->problem ? p->problem : "parse error", p->context ? " " : "",
                    p->context ? p->context : "");
}

// Pass 1: fills pp->scratch and pp->lines, or an error with file:line.
static ssm_code prepass_run(prepass *pp, const char *buf, size_t len, ssm_error *err) {
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return ssm_fail(err, SSM_ENOMEM, "%s: cannot start the YAML parser", pp->file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        ssm_code rc = yaml_problem(pp->file, &parser, err);
        yaml_parser_delete(&parser);
        return rc;
    }
    ssm_code rc = SSM_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        yaml_document_t doc2;
        if (!yaml_parser_load(&parser, &doc2)) {
            rc = yaml_problem(pp->file, &parser, err);
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
            if (r2)
                rc = ssm_fail(err, SSM_ECONFIG, "%s:%d: a second YAML document; a config is one",
                              pp->file, (int)r2->start_mark.line + 1);
            yaml_document_delete(&doc2);
        }
        // A file of only comments is a scalar-less empty document: all defaults.
        if (rc == SSM_OK && !(root->type == YAML_SCALAR_NODE && !root->data.scalar.length)) {
            pp->doc = &doc;
            rc = walk_mapping(pp, root, "", err);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

typedef struct {
    char msg[512];
    size_t len;
} cyaml_log_buf;

static void cyaml_capture(cyaml_log_t level, void *ctx, const char *fmt, va_list args) {
    cyaml_log_buf *b = ctx;
    if (level < CYAML_LOG_ERROR || b->len + 2 >= sizeof b->msg)
        return;
    int w = vsnprintf(b->msg + b->len, sizeof b->msg - b->len, fmt, args);
    if (w > 0)
        b->len = b->len + (size_t)w < sizeof b->msg ? b->len + (size_t)w : sizeof b->msg - 1;
    // libcyaml ends each line with '\n'; keep the message on one line.
    for (size_t i = 0; i < b->len; i++)
        if (b->msg[i] == '\n')
            b->msg[i] = ' ';
}

static ssm_code load_impl(ssm_config *c, const char *path, int *lines, ssm_error *err) {
    char *buf = NULL;
    size_t len = 0;
    SSM_TRY(read_file(path, &buf, &len, err));
    int deep = yaml_depth_exceeded(buf, len, CONFIG_MAX_DEPTH);
    if (deep) {
        free(buf);
        return ssm_fail(err, SSM_ECONFIG, "%s:%d: nested more than %d levels deep; a config "
                        "nests 4 (section, key, subsection, list)", path, deep, CONFIG_MAX_DEPTH);
    }
    ssm_config scratch = *c;
    prepass pp = {.file = path, .scratch = &scratch, .lines = lines};
    memset(lines, 0, ssm_config_nkeys * sizeof *lines);
    ssm_code rc = prepass_run(&pp, buf, len, err);
    bool any = false;
    for (size_t i = 0; i < ssm_config_nkeys; i++)
        any |= lines[i] != 0;
    if (rc != SSM_OK || !any) {
        free(buf);
        return rc;
    }

    // Pass 2: libcyaml, the typed loader.
    cyaml_log_buf log = {{0}, 0};
    const cyaml_config_t cfg = {.log_fn = cyaml_capture, .log_ctx = &log, .mem_fn = cyaml_mem,
                                .log_level = CYAML_LOG_ERROR, .flags = CYAML_CFG_DEFAULT};
    ssm_config *loaded = NULL;
    cyaml_err_t cerr = cyaml_load_data((const uint8_t *)buf, len, &cfg,
                                       (const cyaml_schema_value_t *)ssm_config_cyaml_schema(),
                                       (cyaml_data_t **)&loaded, NULL);
    free(buf);
    if (cerr != CYAML_OK)
        return ssm_fail(err, SSM_ECONFIG, "%s: libcyaml refused the file: %s (%s)", path,
                        cyaml_strerror(cerr), log.msg);
    ssm_config out = *c;
    for (size_t i = 0; i < ssm_config_nkeys && rc == SSM_OK; i++) {
        const ssm_config_key *k = &ssm_config_keys[i];
        if (!lines[i])
            continue;
        if (k->flags & SSM_KEY_EXPAND) {
            // libcyaml holds the text as written; expansion is ours.
            const char *raw = (const char *)loaded + k->offset;
            rc = ssm_config_parse_value(&out, k, &raw, 1, err);
        } else {
            memcpy((char *)&out + k->offset, (const char *)loaded + k->offset, k->size);
            if (k->kind == SSM_KEY_LIST)
                memcpy((char *)&out + k->count_offset, (const char *)loaded + k->count_offset,
                       sizeof(uint32_t));
        }
        if (rc == SSM_OK && !ssm_config_value_equal(&out, &scratch, k)) {
            char a[128], b[128];
            ssm_config_format_value(&out, k, a, sizeof a);
            ssm_config_format_value(&scratch, k, b, sizeof b);
            rc = ssm_fail(err, SSM_ECONFIG, "%s:%d: %s: libcyaml read %s where ssmkit read %s; "
                          "write the value plainly", path, lines[i], k->path, a, b);
        }
        if (rc != SSM_OK && err && !strstr(err->msg, path))
            ssm_error_prefix(err, "%s:%d: ", path, lines[i]);
    }
    cyaml_free(&cfg, (const cyaml_schema_value_t *)ssm_config_cyaml_schema(), loaded, 0);
    if (rc == SSM_OK)
        *c = out;
    return rc;
}

ssm_code ssm_config_load(ssm_config *c, const char *path, ssm_error *err) {
    int lines[ssm_config_nkeys];
    return load_impl(c, path, lines, err);
}

// Cross-key checks; *key = the first key named by a failed rule.
static ssm_code validate_impl(const ssm_config *c, const char **key, ssm_error *err) {
    const ssm_task_config *t = &c->task;
#define RULE(cond, k, ...)                                                                         \
    if (!(cond)) {                                                                                 \
        *key = k;                                                                                  \
        return ssm_fail(err, SSM_ECONFIG, __VA_ARGS__);                                             \
    }
    RULE(c->optim.min_lr <= c->optim.lr, "optim.min_lr",
         "optim.min_lr (%g) must be <= optim.lr (%g)", c->optim.min_lr, c->optim.lr);
    RULE(!(c->optim.warmup_steps > 0 && c->optim.warmup_epochs > 0), "optim.warmup_epochs",
         "optim.warmup_steps (%lld) and optim.warmup_epochs (%lld): set at most one",
         (long long)c->optim.warmup_steps, (long long)c->optim.warmup_epochs);
    RULE(!(c->optim.warmup_fraction > 0 && (c->optim.warmup_steps > 0 ||
                                             c->optim.warmup_epochs > 0)),
         "optim.warmup_fraction",
         "optim.warmup_fraction (%g) with optim.warmup_steps (%lld) or optim.warmup_epochs "
         "(%lld): set at most one warmup", c->optim.warmup_fraction,
         (long long)c->optim.warmup_steps, (long long)c->optim.warmup_epochs);
    RULE(!(c->train.max_steps > 0 && c->train.min_steps > c->train.max_steps), "train.min_steps",
         "train.min_steps (%lld) is more than train.max_steps (%lld)",
         (long long)c->train.min_steps, (long long)c->train.max_steps);
    RULE(c->backbone.dt_min <= c->backbone.dt_max, "backbone.dt_min",
         "backbone.dt_min (%g) must be <= backbone.dt_max (%g)", c->backbone.dt_min,
         c->backbone.dt_max);
    RULE(t->pool != SSM_POOL_CLS || c->adapter.cls_token != SSM_CFG_CLS_NONE, "task.pool",
         "task.pool cls needs a class token: set adapter.cls_token to head or middle");
    RULE(c->backbone.dropout == 0 || c->backbone.ffn_dim > 0, "backbone.dropout",
         "backbone.dropout (%g) acts in the FFN, and backbone.ffn_dim is 0 (no FFN): set "
         "ffn_dim, or backbone.mixer_dropout for the mixer's output", c->backbone.dropout);
    RULE(c->backbone.n_branches <= (int64_t)c->adapter.orders_count, "backbone.n_branches",
         "backbone.n_branches (%lld) is more than adapter.orders has (%u)",
         (long long)c->backbone.n_branches, c->adapter.orders_count);
    // The point groups' sizes have their own keys; the older spelling (patch_size = k,
    // stride = points per group centre) still works alone, never mixed with them.
    const ssm_config_key *ps = ssm_config_key_find("adapter.patch_size");
    int new_sizes = c->adapter.group_size > 0 || c->adapter.num_groups > 0;
    RULE(!new_sizes || c->adapter.stride == 0, "adapter.stride",
         "adapter.stride (%lld) and adapter.group_size / adapter.num_groups: the point groups "
         "read group_size and num_groups; remove adapter.stride", (long long)c->adapter.stride);
    RULE(!new_sizes || !ps || c->adapter.patch_size == atoll(ps->def), "adapter.patch_size",
         "adapter.patch_size (%lld) and adapter.group_size / adapter.num_groups: the point groups "
         "read group_size and num_groups; remove adapter.patch_size",
         (long long)c->adapter.patch_size);
#undef RULE
    return SSM_OK;
}

ssm_code ssm_config_validate(const ssm_config *c, ssm_error *err) {
    const char *key = NULL;
    return validate_impl(c, &key, err);
}

ssm_code ssm_config_resolve(ssm_config *c, const char *path, const char *const *sets, int n,
                            ssm_error *err) {
    return ssm_config_resolve_checked(c, path, sets, n, NULL, err);
}

ssm_code ssm_config_resolve_checked(ssm_config *c, const char *path, const char *const *sets,
                                    int n, ssm_config_check_fn check, ssm_error *err) {
    int lines[ssm_config_nkeys];
    memset(lines, 0, sizeof lines);
    ssm_config tmp;
    ssm_config_defaults(&tmp);
    if (path)
        SSM_TRY(load_impl(&tmp, path, lines, err));
    for (int i = 0; i < n; i++) {
        SSM_TRY(ssm_config_set(&tmp, sets[i], err));
        const char *eq = strchr(sets[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - sets[i]) : 0, sets[i]);
        const ssm_config_key *k = ssm_config_key_find(key);
        if (k)
            lines[key_index(k)] = 0; // now set on the command line, not by the file
    }
    const char *key = NULL;
    ssm_code rc = validate_impl(&tmp, &key, err);
    if (rc == SSM_OK && check)
        rc = check(&tmp, &key, err);
    if (rc != SSM_OK) {
        const ssm_config_key *k = key ? ssm_config_key_find(key) : NULL;
        if (path && k && lines[key_index(k)])
            ssm_error_prefix(err, "%s:%d: ", path, lines[key_index(k)]);
        else if (path)
            ssm_error_prefix(err, "%s: ", path);
        return rc;
    }
    *c = tmp;
    return SSM_OK;
}

// Emits keys in table order; a mapping header is written when a key's parent
// components differ from the previous key's (keys of one mapping are adjacent
// in the table).
static void emit_yaml(const ssm_config *c, FILE *f) {
    fprintf(f, "# ssmkit config, resolved: every key with its value (defaults included)\n");
    char prev[8][64];
    size_t nprev = 0;
    for (size_t i = 0; i < ssm_config_nkeys; i++) {
        const ssm_config_key *k = &ssm_config_keys[i];
        char parts[8][64];
        size_t np = 0;
        for (const char *p = k->path; *p && np < 8;) {
            size_t l = strcspn(p, ".");
            snprintf(parts[np++], sizeof parts[0], "%.*s", (int)l, p);
            p += l + (p[l] == '.');
        }
        size_t same = 0; // leading parent components shared with the previous key
        while (same < nprev && same + 1 < np && !strcmp(prev[same], parts[same]))
            same++;
        for (size_t j = same; j + 1 < np; j++) {
            if (j == 0)
                fprintf(f, "\n");
            fprintf(f, "%*s%s:\n", (int)(2 * j), "", parts[j]);
        }
        for (size_t j = 0; j + 1 < np; j++)
            memcpy(prev[j], parts[j], sizeof prev[j]);
        nprev = np - 1;
        char val[2 * SSM_CFG_PATH_MAX + 16];
        ssm_config_format_value(c, k, val, sizeof val);
        fprintf(f, "%*s%s: %s\n", (int)(2 * (np - 1)), "", parts[np - 1], val);
    }
}

char *ssm_config_to_yaml_string(const ssm_config *c, ssm_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        ssm_fail(err, SSM_ENOMEM, "out of memory writing the config");
        return NULL;
    }
    emit_yaml(c, f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        ssm_fail(err, SSM_ENOMEM, "out of memory writing the config");
        return NULL;
    }
    return buf;
}

ssm_code ssm_config_write(const ssm_config *c, const char *path, ssm_error *err) {
    char *s = ssm_config_to_yaml_string(c, err);
    if (!s)
        return err ? err->code : SSM_ENOMEM;
    ssm_code rc = ssm_write_file_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

void ssm_config_write_reference(FILE *f) {
    const char *section = "";
    size_t slen = 0;
    for (size_t i = 0; i < ssm_config_nkeys; i++) {
        const ssm_config_key *k = &ssm_config_keys[i];
        size_t l = strcspn(k->path, ".");
        if (l != slen || strncmp(k->path, section, l)) {
            section = k->path;
            slen = l;
            fprintf(f, "\n## %.*s\n\n| key | type | default | allowed | meaning |\n"
                       "|---|---|---|---|---|\n", (int)l, section);
        }
        static const char *const kind_names[] = {"int", "float", "bool", "enum", "string", "list"};
        char allowed[512];
        if (k->kind == SSM_KEY_INT || k->kind == SSM_KEY_FLOAT) {
            if (k->kind == SSM_KEY_INT && k->imax == INT64_MAX)
                snprintf(allowed, sizeof allowed, ">= %lld", (long long)k->imin);
            else if (k->kind == SSM_KEY_INT)
                snprintf(allowed, sizeof allowed, "%lld .. %lld", (long long)k->imin,
                         (long long)k->imax);
            else
                snprintf(allowed, sizeof allowed, "%c%g, %g%c", (k->flags & SSM_KEY_MIN_OPEN) ? '(' : '[',
                         k->fmin, k->fmax, (k->flags & SSM_KEY_MAX_OPEN) ? ')' : ']');
        } else if (k->kind == SSM_KEY_ENUM) {
            size_t used = 0;
            allowed[0] = '\0';
            for (int j = 0; k->names[j]; j++)
                used += (size_t)snprintf(allowed + used, sizeof allowed - used, "%s`%s`",
                                         j ? ", " : "", k->names[j]);
        } else if (k->kind == SSM_KEY_BOOL) {
            snprintf(allowed, sizeof allowed, "true, false");
        } else {
            snprintf(allowed, sizeof allowed, "%s", k->allowed ? k->allowed : "any text");
        }
        fprintf(f, "| `%s` | %s | `%s` | %s | %s |\n", k->path, kind_names[k->kind],
                *k->def ? k->def : "\"\"", allowed, k->doc);
    }
}
