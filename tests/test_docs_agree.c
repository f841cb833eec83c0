// Check suite: the docs and the code name the same things.
//   - docs/config.md "Scan orders by adapter": every order name of an adapter's row is
//     accepted by that adapter (with `_reverse` appended too where the row says so), its
//     default orders are the row's default, and every name the adapter lists when it
//     refuses an unknown one is in the row (so a new order cannot stay undocumented).
//   - docs/checkpoints.md "Metadata keys": every metadata key of checkpoints that
//     `ssmkit train` writes for images, series, MIL bags and point clouds (tiny runs on
//     generated data) is named in the table (per-channel keys as `data_mean.<c>`), and
//     the train loop's keys of the table are all written.
// Run from the repository root (make test does); SSMKIT_BIN names the binary.
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/checkpoint.h"
#include "core/metadata.h"
#include "core/params.h"
#include "tests/series_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

#define MAX_NAMES 32
#define NAME_LEN SSM_ADAPTER_NAME_MAX

typedef struct {
    char adapter[NAME_LEN];
    char names[MAX_NAMES][NAME_LEN];
    int n_names;
    int reverse_suffix;
    char defaults[4][NAME_LEN];
    int n_defaults;
} order_row;

static char *read_doc(const char *path) {
    char *s = cf_read_file(path, NULL);
    ck_assert_msg(s != NULL, "%s missing (tests run from the repository root)", path);
    return s;
}

// The backticked words of s[0..n) into out (at most max).
static int backticked(const char *s, size_t n, char out[][NAME_LEN], int max) {
    int k = 0;
    for (const char *p = s; p < s + n && k < max;) {
        const char *a = memchr(p, '`', (size_t)(s + n - p));
        if (!a)
            break;
        const char *b = memchr(a + 1, '`', (size_t)(s + n - a - 1));
        if (!b)
            break;
        snprintf(out[k++], NAME_LEN, "%.*s", (int)(b - a - 1), a + 1);
        p = b + 1;
    }
    return k;
}

// The rows of docs/config.md's "Scan orders by adapter" table.
static int parse_order_table(order_row *rows, int max) {
    char *doc = read_doc("docs/config.md");
    char *sec = strstr(doc, "## Scan orders by adapter");
    ck_assert_msg(sec != NULL, "docs/config.md has no \"Scan orders by adapter\" section");
    char *end = strstr(sec + 3, "\n#");
    int n = 0;
    for (char *line = sec; line && (!end || line < end) && n < max; line = strchr(line, '\n')) {
        line++;
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *cells[5] = {0};
        int c = 0;
        for (char *p = line; *p && *p != '\n' && c < 5; p++)
            if (*p == '|')
                cells[c++] = p + 1;
        ck_assert_msg(c == 5, "docs/config.md: order row with %d columns, expected 4", c - 1);
        order_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        char one[1][NAME_LEN];
        ck_assert_int_eq(backticked(cells[0], (size_t)(cells[1] - cells[0]), one, 1), 1);
        snprintf(r->adapter, NAME_LEN, "%s", one[0]);
        // the names cell may explain itself in parentheses: only backticks count
        r->n_names = backticked(cells[1], (size_t)(cells[2] - cells[1]), r->names, MAX_NAMES);
        r->reverse_suffix = strncmp(cells[2], " yes", 4) == 0;
        char d[1][NAME_LEN];
        ck_assert_int_eq(backticked(cells[3], (size_t)(cells[4] - cells[3]), d, 1), 1);
        // "[a, b]" -> a, b
        for (char *t = strtok(d[0], "[], "); t && r->n_defaults < 4; t = strtok(NULL, "[], "))
            snprintf(r->defaults[r->n_defaults++], NAME_LEN, "%s", t);
    }
    free(doc);
    return n;
}

// Options and one sample's shape that every documented order of `adapter` can run on.
static void adapter_case(const char *adapter, ssm_adapter_options *o, ssm_input_shape *in) {
    ssm_adapter_options_defaults(o);
    memset(in, 0, sizeof *in);
    if (!strcmp(adapter, "image_patches")) {
        *in = (ssm_input_shape){3, {1, 8, 8}};
        o->patch_size = 4;
    } else if (!strcmp(adapter, "audio_patches")) {
        *in = (ssm_input_shape){2, {48, 32}};
    } else if (!strcmp(adapter, "series_variate") || !strcmp(adapter, "series_patch")) {
        *in = (ssm_input_shape){2, {16, 3}};
        o->patch_size = 4;
    } else if (!strcmp(adapter, "bag_features")) {
        *in = (ssm_input_shape){1, {6}};
        const char *kv[2][2] = {{"max_tokens", "16"}, {"coords", "1"}};
        for (int i = 0; i < 2; i++) {
            snprintf(o->extra[i].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i][0]);
            snprintf(o->extra[i].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i][1]);
        }
        o->n_extra = 2;
    } else if (!strcmp(adapter, "point_groups")) {
        *in = (ssm_input_shape){2, {64, 3}};
        const char *kv[2][2] = {{"group_size", "8"}, {"num_groups", "8"}};
        for (int i = 0; i < 2; i++) {
            snprintf(o->extra[i].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i][0]);
            snprintf(o->extra[i].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i][1]);
        }
        o->n_extra = 2;
    } else {
        ck_abort_msg("docs/config.md names adapter '%s': add its case to tests/test_docs_agree.c",
                     adapter);
    }
}

// Creates `adapter` with the one order `name` (NULL: the defaults); the message on refusal.
static ssm_code try_orders(const char *adapter, const char *name, ssm_adapter **keep,
                           ssm_error *e) {
    ssm_adapter_options o;
    ssm_input_shape in;
    adapter_case(adapter, &o, &in);
    if (name) {
        o.n_orders = 1;
        snprintf(o.orders[0], SSM_ADAPTER_NAME_MAX, "%.*s", SSM_ADAPTER_NAME_MAX - 1, name);
    }
    ssm_params p;
    ssm_params_init(&p);
    ssm_adapter *a = NULL;
    ssm_code rc = ssm_adapter_create(&a, adapter, &o, &in, 8, &p, "", e);
    if (keep && rc == SSM_OK)
        *keep = a;
    else
        ssm_adapter_free(a);
    ssm_params_free(&p);
    return rc;
}

static int documented(const order_row *r, const char *name) {
    for (int i = 0; i < r->n_names; i++) {
        if (!strcmp(r->names[i], name))
            return 1;
        if (!strcmp(r->names[i], "sr:R") && !strncmp(name, "sr:", 3))
            return 1;
    }
    return 0;
}

START_TEST(every_documented_order_is_accepted) {
    order_row rows[16];
    int n = parse_order_table(rows, 16);
    size_t n_reg = 0;
    ssm_adapter_registry(&n_reg);
    ck_assert_msg((size_t)n == n_reg, "docs/config.md's order table has %d adapters, the "
                  "registry %zu", n, n_reg);
    for (int i = 0; i < n; i++) {
        const order_row *r = &rows[i];
        ck_assert_msg(r->n_names > 0, "%s: no order names in the docs", r->adapter);
        for (int j = 0; j < r->n_names; j++) {
            char name[2 * NAME_LEN];
            snprintf(name, sizeof name, "%s", strcmp(r->names[j], "sr:R") ? r->names[j] : "sr:4");
            ssm_error e = {0};
            ck_assert_msg(try_orders(r->adapter, name, NULL, &e) == SSM_OK,
                          "docs/config.md lists order '%s' for %s, which refuses it: %s", name,
                          r->adapter, e.msg);
            if (r->reverse_suffix && strcmp(name, "reverse")) {
                strcat(name, "_reverse");
                ck_assert_msg(try_orders(r->adapter, name, NULL, &e) == SSM_OK,
                              "%s refuses '%s' (docs: names take _reverse): %s", r->adapter,
                              name, e.msg);
            }
        }
        ssm_adapter *a = NULL;
        ssm_error e = {0};
        ck_assert_msg(try_orders(r->adapter, NULL, &a, &e) == SSM_OK, "%s", e.msg);
        ck_assert_msg(a->n_orders == r->n_defaults, "%s: %d default orders, docs say %d",
                      r->adapter, a->n_orders, r->n_defaults);
        for (int k = 0; k < r->n_defaults; k++)
            ck_assert_msg(!strcmp(a->order_names[k], r->defaults[k]),
                          "%s: default order %d is '%s', docs say '%s'", r->adapter, k,
                          a->order_names[k], r->defaults[k]);
        ssm_adapter_free(a);
    }
}
END_TEST

START_TEST(every_order_an_adapter_lists_is_documented) {
    order_row rows[16];
    int n = parse_order_table(rows, 16);
    for (int i = 0; i < n; i++) {
        const order_row *r = &rows[i];
        ssm_error e = {0};
        ck_assert_int_ne(try_orders(r->adapter, "no_such_order", NULL, &e), SSM_OK);
        const char *known = strstr(e.msg, "known:");
        ck_assert_msg(known != NULL, "%s: refusal without a list of known orders: %s",
                      r->adapter, e.msg);
        // Every word of the list that the adapter accepts as an order must be documented
        // (filler words such as "and" or "or" are refused, so they drop out).
        char word[NAME_LEN];
        for (const char *p = known + 6; *p;) {
            size_t k = 0;
            while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == ':') && k + 1 < NAME_LEN)
                word[k++] = *p++;
            word[k] = 0;
            if (!k) {
                p++;
                continue;
            }
            ssm_error e2 = {0};
            if (try_orders(r->adapter, word, NULL, &e2) == SSM_OK)
                ck_assert_msg(documented(r, word), "%s accepts and lists order '%s', which "
                              "docs/config.md's table does not name", r->adapter, word);
        }
    }
}
END_TEST

static char bin[512];

// Trains `config` with `sets` for one short epoch into fx_dir/<name>; returns the
// checkpoint's metadata (caller frees).
static void train_tiny(const char *config, const char *sets, const char *name, ssm_metadata *meta) {
    char cmd[4096], log[600], ckpt[700];
    snprintf(log, sizeof log, "%s/%s.log", fx_dir, name);
    snprintf(cmd, sizeof cmd, "%s train %s %s --set train.epochs=1 --set run.progress=off "
             "--set run.tensorboard=false --set run.dir=%s --set run.name=%s",
             bin, config, sets, fx_dir, name);
    int rc = cf_run(cmd, log, log);
    char *text = cf_read_file(log, NULL);
    ck_assert_msg(rc == 0, "%s -> %d\n%s", cmd, rc, text ? text : "");
    free(text);
    snprintf(ckpt, sizeof ckpt, "%s/%s/last.safetensors", fx_dir, name);
    ssm_ckpt_info info;
    ssm_error e = {0};
    ck_assert_msg(ssm_checkpoint_inspect(ckpt, &info, &e) == SSM_OK, "%s", e.msg);
    ssm_metadata_init(meta);
    for (size_t i = 0; i < info.meta.count; i++)
        ck_assert_int_eq(ssm_metadata_set(meta, info.meta.items[i].key, info.meta.items[i].value,
                                          &e), SSM_OK);
    ssm_ckpt_info_free(&info);
}

// `key` as the docs spell it: a trailing ".<digits>" becomes ".<c>".
static void doc_form(char *out, size_t n, const char *key) {
    snprintf(out, n, "`%s`", key);
    char *dot = strrchr(out, '.');
    if (dot && isdigit((unsigned char)dot[1]))
        snprintf(dot, n - (size_t)(dot - out), ".<c>`");
}

static void check_keys(const ssm_metadata *m, const char *doc, const char *what) {
    for (size_t i = 0; i < m->count; i++) {
        char form[160];
        doc_form(form, sizeof form, m->items[i].key);
        ck_assert_msg(strstr(doc, form) != NULL, "%s checkpoint key %s is not in "
                      "docs/checkpoints.md's \"Metadata keys\"", what, form);
    }
    static const char *const loop_keys[] = {SSM_META_FORMAT, SSM_META_CONFIG, SSM_META_STEP,
                                            SSM_META_EPOCH, SSM_META_BEST_METRIC,
                                            SSM_META_BEST_STEP, SSM_META_VERSION};
    for (size_t i = 0; i < sizeof loop_keys / sizeof *loop_keys; i++)
        ck_assert_msg(ssm_metadata_get(m, loop_keys[i]) != NULL, "%s checkpoint lacks '%s'",
                      what, loop_keys[i]);
}

START_TEST(every_checkpoint_key_is_documented) {
    char *all = read_doc("docs/checkpoints.md");
    char *doc = strstr(all, "## Metadata keys");
    ck_assert_msg(doc != NULL, "docs/checkpoints.md has no \"Metadata keys\" section");
    ssm_metadata m;
    char sets[2048], dir[600];

    snprintf(dir, sizeof dir, "%s/idx", fx_dir);
    char mk[700];
    snprintf(mk, sizeof mk, "mkdir -p %s", dir);
    ck_assert_int_eq(cf_run(mk, NULL, NULL), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(dir, 64, 16, 3), 0);
    snprintf(sets, sizeof sets, "--set data.path=%s --set data.batch_size=16 "
             "--set backbone.d_model=8 --set backbone.n_layers=1 --set backbone.d_state=4 "
             "--set adapter.patch_size=7", dir);
    train_tiny("configs/image/fashion_mnist.yaml", sets, "img", &m);
    check_keys(&m, doc, "image");
    ssm_metadata_free(&m);

    char csv[600];
    char *buf = malloc(300 * 64);
    size_t n = (size_t)sprintf(buf, "date,a,OT\n");
    for (int t = 0; t < 300; t++)
        n += (size_t)sprintf(buf + n, "d%d,%.5f,%.5f\n", t, sin(t / 4.0), cos(t / 7.0));
    fx_write(csv, sizeof csv, "s.csv", buf, n);
    free(buf);
    snprintf(sets, sizeof sets, "--set data.name=csv --set data.path=%s --set data.lookback=24 "
             "--set data.horizon=8 --set backbone.d_model=8 --set backbone.n_layers=1 "
             "--set backbone.d_state=4 --set data.batch_size=16 --set data.num_workers=0 "
             "--set train.max_steps=2", csv);
    train_tiny("configs/series/etth1_96.yaml", sets, "ser", &m);
    check_keys(&m, doc, "series");
    ssm_metadata_free(&m);

    buf = malloc(1 << 14);
    n = 0;
    for (int bag = 0; bag < 20; bag++)
        for (int i = 0; i < 1 + bag % 4; i++)
            n += (size_t)sprintf(buf + n, "%d,%d,%.3f,%.3f,%.3f\n", bag % 2, bag, i * 0.5,
                                 bag * 0.1, (bag % 2) * 2.0);
    fx_write(csv, sizeof csv, "musk.csv", buf, n);
    free(buf);
    snprintf(sets, sizeof sets, "--set data.path=%s --set backbone.d_model=8 "
             "--set backbone.d_state=4 --set task.attn_dim=8 --set data.val_fraction=0.2", csv);
    train_tiny("configs/mil/musk1.yaml", sets, "mil", &m);
    check_keys(&m, doc, "MIL");
    ssm_metadata_free(&m);

    snprintf(sets, sizeof sets, "--set data.shapes_per_class=3 --set data.num_points=64 "
             "--set data.batch_size=8 --set data.val_fraction=0.1 --set adapter.group_size=8 "
             "--set adapter.num_groups=8 --set backbone.d_model=8 --set backbone.n_layers=1");
    train_tiny("configs/points/shapes.yaml", sets, "pts", &m);
    check_keys(&m, doc, "point-cloud");
    ssm_metadata_free(&m);
    free(all);
}
END_TEST

static void setup(void) {
    fx_init();
    snprintf(bin, sizeof bin, "%s", cf_bin());
}

static void teardown(void) { fx_cleanup(); }

int main(void) {
    Suite *s = suite_create("docs_agree");
    TCase *t = tcase_create("orders");
    tcase_add_test(t, every_documented_order_is_accepted);
    tcase_add_test(t, every_order_an_adapter_lists_is_documented);
    suite_add_tcase(s, t);
    TCase *c = tcase_create("checkpoints");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_set_timeout(c, 300);
    tcase_add_test(c, every_checkpoint_key_is_documented);
    suite_add_tcase(s, c);
    return tu_run_suite(s);
}
