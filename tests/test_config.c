// Check suite: typed YAML configs (core/config.h). Fixtures are written into a
// mkdtemp folder; every refused file is checked to name the file, the line and
// the key, and the config to be left unchanged.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/config_keys.h"
#include "tasks/task_run.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"

static char tmpdir[256];

static void setup(void) { ck_assert_int_eq(tu_mkdtemp(tmpdir, sizeof tmpdir, "ssm_cfg"), 0); }

static void teardown(void) { ck_assert_int_eq(tu_rmtree(tmpdir), 0); }

// Writes text to <tmpdir>/name and returns the path (static buffer per call site is fine: copied).
static void fixture(char *path, size_t n, const char *name, const char *text) {
    snprintf(path, n, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(schema_agrees_with_key_table) {
    char why[256] = "";
    ck_assert_msg(ssm_config_schema_check(why, sizeof why), "%s", why);
}
END_TEST

START_TEST(defaults_match_documented_values) {
    ssm_config c;
    ssm_config_defaults(&c);
    // Values restated by hand from the brief / mamba_ssm, not read from the table.
    ck_assert_int_eq(c.data.name, SSM_DATA_FASHION_MNIST);
    ck_assert(c.data.val_fraction == 0.1);
    ck_assert_int_eq(c.backbone.d_state, 16);
    ck_assert_int_eq(c.backbone.d_conv, 4);
    ck_assert_int_eq(c.backbone.expand, 2);
    ck_assert_int_eq(c.backbone.dt_rank, 0);
    ck_assert_int_eq(c.backbone.scan_chunk, 64);
    ck_assert(c.backbone.final_norm);
    ck_assert(c.backbone.dt_min == 1e-3 && c.backbone.dt_max == 1e-1);
    ck_assert_int_eq(c.adapter.orders_count, 1);
    ck_assert_str_eq(c.adapter.orders[0], "row");
    ck_assert_str_eq(c.run.dir, "runs");
    ck_assert_str_eq(c.run.device, "cpu");
    ck_assert(c.optim.lr == 1e-3 && c.optim.beta2 == 0.999);
    ck_assert_int_eq(c.train.max_steps, 0);
    ssm_error e = {0};
    ck_assert_msg(ssm_config_validate(&c, &e) == SSM_OK, "%s", e.msg);
    // Every key's default is accepted by its own checks (defaults can't fail silently).
    for (size_t i = 0; i < ssm_config_nkeys; i++) {
        const ssm_config_key *k = &ssm_config_keys[i];
        if (k->kind == SSM_KEY_LIST)
            continue;
        ssm_config t;
        ssm_config_defaults(&t);
        const char *d = k->def;
        ck_assert_msg(ssm_config_parse_value(&t, k, &d, 1, &e) == SSM_OK, "%s", e.msg);
    }
}
END_TEST

static const char *valid_yaml =
    "# a fixture\n"
    "data:\n"
    "  name: ett\n"
    "  path: /data/ETT-small/ETTh1.csv\n"
    "  val_fraction: 0.2\n"
    "  batch_size: 32\n"
    "  augment:\n"
    "    hflip: yes\n"
    "    random_crop_padding: 4\n"
    "  features: MS\n"
    "adapter:\n"
    "  name: series_patch\n"
    "  orders: [row, reverse]\n"
    "  revin: true\n"
    "backbone:\n"
    "  d_model: 256\n"
    "  norm: layer\n"
    "  norm_eps: 1e-6\n"
    "  final_norm: off\n"
    "task:\n"
    "  name: forecast\n"
    "  loss: mae\n"
    "optim:\n"
    "  lr: 0.0005\n"
    "  schedule: constant\n"
    "run:\n"
    "  name: ett_h1\n"
    "  seed: 1234\n"
    "  device: cuda:1\n"
    "  precision: bf16\n";

START_TEST(valid_file_loads) {
    char path[512];
    fixture(path, sizeof path, "valid.yaml", valid_yaml);
    ssm_config c;
    ssm_config_defaults(&c);
    ssm_error e = {0};
    ck_assert_msg(ssm_config_load(&c, path, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.data.name, SSM_DATA_ETT);
    ck_assert_str_eq(c.data.path, "/data/ETT-small/ETTh1.csv");
    ck_assert(c.data.val_fraction == 0.2);
    ck_assert_int_eq(c.data.batch_size, 32);
    ck_assert(c.data.augment.hflip);
    ck_assert_int_eq(c.data.augment.random_crop_padding, 4);
    ck_assert(c.data.augment.normalize); // absent: default kept
    ck_assert_int_eq(c.data.features, SSM_FEATURES_MS);
    ck_assert_str_eq(c.adapter.name, "series_patch");
    ck_assert_int_eq(c.adapter.orders_count, 2);
    ck_assert_str_eq(c.adapter.orders[1], "reverse");
    ck_assert(c.adapter.revin);
    ck_assert_int_eq(c.backbone.d_model, 256);
    ck_assert_int_eq(c.backbone.n_layers, 4); // default
    ck_assert_int_eq(c.backbone.norm, SSM_NORM_LAYER);
    ck_assert(c.backbone.norm_eps == 1e-6);
    ck_assert(!c.backbone.final_norm);
    ck_assert_str_eq(c.task.name, "forecast");
    ck_assert_int_eq(c.task.loss, SSM_LOSS_MAE);
    ck_assert(c.optim.lr == 0.0005);
    ck_assert_int_eq(c.optim.schedule, SSM_SCHED_CONSTANT);
    ck_assert_str_eq(c.run.name, "ett_h1");
    ck_assert_int_eq(c.run.seed, 1234);
    ck_assert_str_eq(c.run.device, "cuda:1");
    ck_assert_int_eq(c.run.precision, SSM_PREC_BF16);
    ck_assert_msg(ssm_config_validate(&c, &e) == SSM_OK, "%s", e.msg);

    // An empty file (comments only) is all defaults.
    fixture(path, sizeof path, "empty.yaml", "# nothing\n");
    ssm_config d, ref;
    ssm_config_defaults(&d);
    ssm_config_defaults(&ref);
    ck_assert_msg(ssm_config_load(&d, path, &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_config_equal(&d, &ref, NULL, 0));
}
END_TEST

// Every boolean word is read the same by the line-aware pass and by libcyaml.
START_TEST(boolean_words_agree_with_libcyaml) {
    static const struct { const char *w; bool v; } words[] = {
        {"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0}, {"on", 1}, {"off", 0},
        {"True", 1}, {"FALSE", 0}, {"1", 1}, {"0", 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char text[128], path[512];
        snprintf(text, sizeof text, "data:\n  shuffle: %s\n", words[i].w);
        fixture(path, sizeof path, "bool.yaml", text);
        ssm_config c;
        ssm_config_defaults(&c);
        c.data.shuffle = !words[i].v;
        ssm_error e = {0};
        ck_assert_msg(ssm_config_load(&c, path, &e) == SSM_OK, "%s: %s", words[i].w, e.msg);
        ck_assert_msg(c.data.shuffle == words[i].v, "%s", words[i].w);
    }
}
END_TEST

typedef struct {
    const char *name;
    const char *yaml;
    int line;                // expected line in the message, 0 = none expected
    const char *needles[3];  // further substrings the message must contain
} bad_case;

static const bad_case bad_cases[] = {
    {"unknown key", "backbone:\n  d_model: 64\n  d_modle: 3\n", 3,
     {"backbone.d_modle", "did you mean 'backbone.d_model'", "d_state"}},
    {"unknown section", "data:\n  name: mnist\nbackbon:\n  d_model: 3\n", 3,
     {"backbon", "did you mean", "backbone"}},
    {"unknown nested key", "data:\n  augment:\n    vflip: true\n", 3,
     {"data.augment.vflip", "hflip", NULL}},
    {"wrong type int", "train:\n  epochs: ten\n", 2, {"train.epochs", "integer", "'ten'"}},
    {"wrong type float", "optim:\n  lr: fast\n", 2, {"optim.lr", "number", "(0, 10]"}},
    {"wrong type bool", "data:\n  shuffle: maybe\n", 2, {"data.shuffle", "boolean", "maybe"}},
    {"int given a float", "backbone:\n  d_model: 12.5\n", 2, {"backbone.d_model", "integer", NULL}},
    {"mapping for a value", "backbone:\n  d_model:\n    x: 1\n", 2,
     {"backbone.d_model", "a mapping", NULL}},
    {"scalar for a section", "backbone: 3\n", 1, {"backbone", "expected a mapping", NULL}},
    {"scalar for a list", "adapter:\n  orders: row\n", 2, {"adapter.orders", "list", NULL}},
    {"out of range int", "backbone:\n  d_model: 0\n", 2,
     {"backbone.d_model", "out of range", "[1, 65536]"}},
    {"out of range float", "data:\n  val_fraction: 0.7\n", 2,
     {"data.val_fraction", "out of range", "[0, 0.5]"}},
    {"open bound", "optim:\n  beta2: 1\n", 2, {"optim.beta2", "out of range", "[0, 1)"}},
    {"too many workers", "data:\n  num_workers: 17\n", 2, {"data.num_workers", "[0, 16]", NULL}},
    {"bad enum", "data:\n  name: cifar\n", 2,
     {"data.name", "'cifar'", "fashion_mnist, mnist, idx, ett, csv, ucr"}},
    {"bad device", "run:\n  device: tpu\n", 2, {"run.device", "cpu, cuda, cuda:N", NULL}},
    {"bad order name", "adapter:\n  orders: [row, Bad!]\n", 2, {"adapter.orders[1]", "Bad!", NULL}},
    {"too many orders", "adapter:\n  orders: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, "
     "r, s, t, u, v, w, x, y]\n", 2, {"adapter.orders", "25 entries", NULL}},
    {"duplicate key", "train:\n  epochs: 3\n  epochs: 4\n", 3, {"train.epochs", "duplicate", "line 2"}},
    {"malformed YAML", "data:\n  name: [mnist\nrun:\n  seed: 1\n", 3, {"malformed YAML", NULL, NULL}},
    {"bad indentation", "data:\n  name: mnist\n   batch_size: 3\n", 3, {"malformed YAML", NULL, NULL}},
    {"tab indentation", "data:\n\tname: mnist\n", 2, {"malformed YAML", NULL, NULL}},
    {"two documents", "data:\n  name: mnist\n---\nrun:\n  seed: 1\n", 4, {"second YAML document", NULL, NULL}},
    {"top level list", "- data\n- run\n", 1, {"top level", "a mapping", NULL}},
    {"unset variable", "data:\n  path: ${SSMKIT_SURELY_UNSET_VAR}/x\n", 2,
     {"data.path", "SSMKIT_SURELY_UNSET_VAR", "not set"}},
};

START_TEST(bad_files_refused_with_file_line_key) {
    const bad_case *bc = &bad_cases[_i];
    char path[512];
    fixture(path, sizeof path, "bad.yaml", bc->yaml);
    ssm_config c, before;
    ssm_config_defaults(&c);
    c.backbone.d_model = 77; // a non-default marker that must survive the failure
    before = c;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_load(&c, path, &e) == SSM_ECONFIG, "%s: accepted", bc->name);
    ck_assert_msg(strstr(e.msg, path) != NULL, "%s: no file in '%s'", bc->name, e.msg);
    if (bc->line) {
        char at[600];
        snprintf(at, sizeof at, "%s:%d:", path, bc->line);
        ck_assert_msg(strstr(e.msg, at) != NULL, "%s: no '%s' in '%s'", bc->name, at, e.msg);
    }
    for (int j = 0; j < 3; j++)
        if (bc->needles[j])
            ck_assert_msg(strstr(e.msg, bc->needles[j]) != NULL, "%s: no '%s' in '%s'", bc->name,
                          bc->needles[j], e.msg);
    ck_assert_msg(ssm_config_equal(&c, &before, NULL, 0), "%s: config changed", bc->name);
}
END_TEST

START_TEST(missing_file_refused) {
    char path[512];
    snprintf(path, sizeof path, "%s/nope.yaml", tmpdir);
    ssm_config c;
    ssm_config_defaults(&c);
    ssm_error e = {0};
    ck_assert_int_eq(ssm_config_load(&c, path, &e), SSM_EIO);
    ck_assert(strstr(e.msg, path) != NULL);
    ck_assert(strstr(e.msg, "No such file") != NULL);
}
END_TEST

START_TEST(set_overrides_with_checks) {
    ssm_config c;
    ssm_config_defaults(&c);
    ssm_error e = {0};
    ck_assert_int_eq(ssm_config_set(&c, "backbone.d_model=96", &e), SSM_OK);
    ck_assert_int_eq(c.backbone.d_model, 96);
    ck_assert_int_eq(ssm_config_set(&c, " optim.lr = 3e-4 ", &e), SSM_OK);
    ck_assert(c.optim.lr == 3e-4);
    ck_assert_int_eq(ssm_config_set(&c, "data.augment.hflip=true", &e), SSM_OK);
    ck_assert(c.data.augment.hflip);
    ck_assert_int_eq(ssm_config_set(&c, "task.name=mil", &e), SSM_OK);
    ck_assert_str_eq(c.task.name, "mil");
    ck_assert_int_eq(ssm_config_set(&c, "adapter.orders=[row, reverse, col]", &e), SSM_OK);
    ck_assert_int_eq(c.adapter.orders_count, 3);
    ck_assert_str_eq(c.adapter.orders[2], "col");
    ck_assert_int_eq(ssm_config_set(&c, "adapter.orders=hilbert", &e), SSM_OK);
    ck_assert_int_eq(c.adapter.orders_count, 1);
    ck_assert_str_eq(c.adapter.orders[0], "hilbert");
    ck_assert_int_eq(ssm_config_set(&c, "run.name=\"my run\"", &e), SSM_OK);
    ck_assert_str_eq(c.run.name, "my run");

    ssm_config before = c;
    struct { const char *a, *needle1, *needle2; } bad[] = {
        {"backbone.d_modle=3", "unknown key", "did you mean 'backbone.d_model'"},
        {"backbone=3", "unknown key", "backbone"},
        {"backbone.d_model", "expected section.key=value", NULL},
        {"backbone.d_model=0", "out of range", "[1, 65536]"},
        {"backbone.d_model=abc", "expected an integer", "'abc'"},
        {"optim.lr=nan", "finite number", "optim.lr"},
        {"optim.lr=inf", "finite number", NULL},
        {"data.name=cifar", "is not one of", "fashion_mnist"},
        {"data.shuffle=maybe", "boolean", NULL},
        {"adapter.orders=[]", "0 entries", NULL},
        {"adapter.orders=[row,,x]", "adapter.orders[1]", "empty name"},
        {"run.name=a/b", "run.name", "folder"},
        {"run.device=cuda:x", "run.device", NULL},
        {"backbone.d_model=010", "expected an integer", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(ssm_config_set(&c, bad[i].a, &e) == SSM_ECONFIG, "%s accepted", bad[i].a);
        ck_assert_msg(strstr(e.msg, "--set") && strstr(e.msg, bad[i].needle1), "%s: '%s'", bad[i].a,
                      e.msg);
        if (bad[i].needle2)
            ck_assert_msg(strstr(e.msg, bad[i].needle2), "%s: '%s'", bad[i].a, e.msg);
        ck_assert_msg(ssm_config_equal(&c, &before, NULL, 0), "%s changed the config", bad[i].a);
    }
}
END_TEST

START_TEST(write_then_load_round_trip) {
    ssm_config c, d, ref;
    ssm_config_defaults(&c);
    ssm_error e = {0};
    const char *sets[] = {
        "data.name=ucr",           "data.path=/odd \"dir\"/back\\slash/$$HOME/ü",
        "data.val_fraction=0.123456789012345", "data.augment.normalize=false",
        "data.target=7",           "adapter.orders=[x, y, z]",
        "adapter.cls_token=middle", "backbone.norm_eps=1.0000000000000001e-07",
        "backbone.dt_min=0.0001234", "optim.lr=0.1",
        "optim.min_lr=0",          "train.max_steps=9007199254740993",
        "train.resume=",           "run.seed=9223372036854775807",
        "run.progress=plain",      "task.pool=cls",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        ck_assert_msg(ssm_config_set(&c, sets[i], &e) == SSM_OK, "%s: %s", sets[i], e.msg);
    ck_assert_str_eq(c.data.path, "/odd \"dir\"/back\\slash/$HOME/ü");
    ssm_config_defaults(&ref);
    char diff[128];
    ck_assert(!ssm_config_equal(&c, &ref, diff, sizeof diff));

    char path[512];
    snprintf(path, sizeof path, "%s/resolved.yaml", tmpdir);
    ck_assert_msg(ssm_config_write(&c, path, &e) == SSM_OK, "%s", e.msg);
    ssm_config_defaults(&d);
    ck_assert_msg(ssm_config_load(&d, path, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_config_equal(&c, &d, diff, sizeof diff), "differs at %s", diff);

    // The string form is the file's bytes.
    char *s = ssm_config_to_yaml_string(&c, &e);
    ck_assert_ptr_nonnull(s);
    FILE *f = fopen(path, "r");
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(s, buf);
    // The written file names every key (a resolved config, defaults included).
    ck_assert(strstr(s, "  augment:\n    random_crop_padding: 0\n"));
    ck_assert(strstr(s, "\nbackbone:\n  d_model: 128\n"));
    free(s);
}
END_TEST

START_TEST(variables_expanded) {
    ssm_config c;
    ssm_config_defaults(&c);
    ssm_error e = {0};
    setenv("SSMKIT_TEST_ROOT", "/mnt/x", 1);
    unsetenv("SSMKIT_DATA");
    char path[512];
    fixture(path, sizeof path, "vars.yaml",
            "data:\n  path: ${SSMKIT_DATA}/ETT-small\nrun:\n  dir: ${SSMKIT_TEST_ROOT}/runs/$$1\n");
    ck_assert_msg(ssm_config_load(&c, path, &e) == SSM_OK, "%s", e.msg);
    ck_assert_str_eq(c.data.path, "../shared/data/ETT-small");
    ck_assert_str_eq(c.run.dir, "/mnt/x/runs/$1");
    setenv("SSMKIT_DATA", "/srv/data", 1);
    ck_assert_msg(ssm_config_load(&c, path, &e) == SSM_OK, "%s", e.msg);
    ck_assert_str_eq(c.data.path, "/srv/data/ETT-small");
    ck_assert_int_eq(ssm_config_set(&c, "data.path=${SSMKIT_TEST_ROOT}", &e), SSM_OK);
    ck_assert_str_eq(c.data.path, "/mnt/x");
    ck_assert_int_eq(ssm_config_set(&c, "data.path=${NOPE_NOT_SET_X}", &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "NOPE_NOT_SET_X") && strstr(e.msg, "data.path"));
    ck_assert_int_eq(ssm_config_set(&c, "data.path=${SSMKIT_TEST_ROOT", &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "unterminated"));
    // Non-expanding keys keep '$' as written.
    ck_assert_int_eq(ssm_config_set(&c, "data.target=${X}", &e), SSM_OK);
    ck_assert_str_eq(c.data.target, "${X}");
    unsetenv("SSMKIT_DATA");
    unsetenv("SSMKIT_TEST_ROOT");
}
END_TEST

START_TEST(cross_key_checks_name_keys_and_lines) {
    char path[512];
    fixture(path, sizeof path, "cross.yaml",
            "adapter:\n  cls_token: none\ntask:\n  name: classify\n  pool: cls\n");
    ssm_config c;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_config_resolve(&c, path, NULL, 0, &e), SSM_ECONFIG);
    char at[600];
    snprintf(at, sizeof at, "%s:5:", path);
    ck_assert_msg(strstr(e.msg, at) && strstr(e.msg, "task.pool") && strstr(e.msg, "adapter.cls_token"),
                  "%s", e.msg);
    const char *fix[] = {"adapter.cls_token=middle"};
    ck_assert_msg(ssm_config_resolve(&c, path, fix, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.adapter.cls_token, SSM_CFG_CLS_MIDDLE);
    ck_assert_int_eq(c.task.pool, SSM_POOL_CLS);

    ssm_config d;
    ssm_config_defaults(&d);
    d.optim.min_lr = 0.01; // above lr 1e-3
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "optim.min_lr") && strstr(e.msg, "optim.lr"));
    // The keys of a task are checked by the task (tasks/task.h), through the hook.
    const char *key = NULL;
    ssm_config_defaults(&d);
    snprintf(d.task.name, sizeof d.task.name, "forecast");
    d.task.loss = SSM_LOSS_CE;
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_OK);
    ck_assert_int_eq(task_check_config(&d, &key, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "task.loss") && !strcmp(key, "task.loss"));
    ssm_config_defaults(&d);
    d.task.num_classes = 1;
    ck_assert_int_eq(task_check_config(&d, &key, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "task.num_classes"));
    ssm_config_defaults(&d);
    d.optim.warmup_steps = 10;
    d.optim.warmup_epochs = 1;
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_ECONFIG);
    ssm_config_defaults(&d);
    d.backbone.n_branches = 2; // orders has one entry
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "backbone.n_branches"));
    // The point groups' sizes: the new keys alone, or the older spelling alone, never mixed.
    ssm_config_defaults(&d);
    d.adapter.group_size = 32;
    d.adapter.num_groups = 64;
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_OK);
    d.adapter.stride = 16;
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "adapter.stride") && strstr(e.msg, "group_size"));
    d.adapter.stride = 0;
    d.adapter.patch_size = 32;
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "adapter.patch_size") && strstr(e.msg, "num_groups"));
    d.adapter.group_size = d.adapter.num_groups = 0;
    d.adapter.stride = 16;
    ck_assert_int_eq(ssm_config_validate(&d, &e), SSM_OK);
    // A bad --set in resolve is reported as such.
    const char *bad[] = {"train.epochs=0"};
    ck_assert_int_eq(ssm_config_resolve(&c, NULL, bad, 1, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "--set") && strstr(e.msg, "train.epochs"));
}
END_TEST

// task.name is a registry name: an unknown one lists the registered tasks, and the
// failure carries the file:line of task.name like any other config error.
START_TEST(task_name_checked_by_the_registry) {
    char path[512];
    fixture(path, sizeof path, "task.yaml", "data:\n  batch_size: 8\n\ntask:\n  name: detect\n");
    ssm_config c;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_config_resolve(&c, path, NULL, 0, &e), SSM_OK); // core alone: a name
    ck_assert_int_eq(ssm_config_resolve_checked(&c, path, NULL, 0, task_check_config, &e),
                     SSM_ECONFIG);
    char at[600];
    snprintf(at, sizeof at, "%s:5:", path);
    ck_assert_msg(strstr(e.msg, at) && strstr(e.msg, "'detect'") &&
                  strstr(e.msg, "known: classify, forecast, regress"), "%s", e.msg);
    fixture(path, sizeof path, "task2.yaml", "task:\n  name: regress\n  loss: ce\n");
    ck_assert_int_eq(ssm_config_resolve_checked(&c, path, NULL, 0, task_check_config, &e),
                     SSM_ECONFIG);
    snprintf(at, sizeof at, "%s:3:", path);
    ck_assert_msg(strstr(e.msg, at) && strstr(e.msg, "task.loss"), "%s", e.msg);
    const char *fix[] = {"task.name=forecast", "task.loss=mae"};
    ck_assert_msg(ssm_config_resolve_checked(&c, path, fix, 2, task_check_config, &e) == SSM_OK,
                  "%s", e.msg);
}
END_TEST

// docs/config.md must hold the generated reference, so it lists every key.
START_TEST(docs_list_every_key) {
    FILE *f = fopen("docs/config.md", "r");
    ck_assert_msg(f != NULL, "docs/config.md missing (tests run from the repository root)");
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *ref = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&ref, &len);
    ssm_config_write_reference(m);
    fclose(m);
    ck_assert_msg(strstr(doc, ref) != NULL,
                  "docs/config.md is out of date: regenerate its tables with ssm_config_write_reference");
    for (size_t i = 0; i < ssm_config_nkeys; i++) {
        char needle[160];
        snprintf(needle, sizeof needle, "| `%s` |", ssm_config_keys[i].path);
        ck_assert_msg(strstr(doc, needle), "%s not documented", ssm_config_keys[i].path);
    }
    free(ref);
}
END_TEST

int main(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schema_agrees_with_key_table);
    tcase_add_test(tc, defaults_match_documented_values);
    tcase_add_test(tc, valid_file_loads);
    tcase_add_test(tc, boolean_words_agree_with_libcyaml);
    tcase_add_loop_test(tc, bad_files_refused_with_file_line_key, 0,
                        (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, missing_file_refused);
    tcase_add_test(tc, set_overrides_with_checks);
    tcase_add_test(tc, write_then_load_round_trip);
    tcase_add_test(tc, variables_expanded);
    tcase_add_test(tc, cross_key_checks_name_keys_and_lines);
    tcase_add_test(tc, task_name_checked_by_the_registry);
    tcase_add_test(tc, docs_list_every_key);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
