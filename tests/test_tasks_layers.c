// Check suite: the files of tasks/ form layers, with no loop of calls among them
// (docs/design.md "Layers of tasks/"). A module is a file without its extension
// (tasks/model.c + tasks/model.h = tasks/model); module A depends on module B when a
// file of A includes B's header. The suite reads every tasks/**/*.{c,h,cu} from the
// repository root, fails on any cycle (naming it), prints each module's layer (0 =
// depends on no other tasks/ module) and checks the order the design states:
// the loop and the calls on a task above the tasks, the tasks above the model, the
// model above the heads, and no head or loss above the model.
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"

#define MAX_MODULES 128

static char names[MAX_MODULES][96];
static int n_modules;
static unsigned char dep[MAX_MODULES][MAX_MODULES];
static int level[MAX_MODULES], state[MAX_MODULES];
static char cycle[1024];

static int module_of(const char *path) {
    char m[96];
    snprintf(m, sizeof m, "%s", path);
    char *dot = strrchr(m, '.');
    if (dot)
        *dot = 0;
    for (int i = 0; i < n_modules; i++)
        if (!strcmp(names[i], m))
            return i;
    ck_assert_int_lt(n_modules, MAX_MODULES);
    snprintf(names[n_modules], sizeof names[0], "%s", m);
    return n_modules++;
}

static void read_file(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: cannot open (run from the repository root)", path);
    int from = module_of(path);
    // A registry reaches its entries by name, not by include: X(name) lines of
    // tasks/<kind>_registry.c are edges to tasks/<kind>_<name>.
    char kind[32] = "";
    const char *reg = strstr(path, "_registry.c");
    if (reg && !strncmp(path, "tasks/", 6))
        snprintf(kind, sizeof kind, "%.*s", (int)(reg - path - 6), path + 6);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char inc[256], x[64];
        if (*kind && sscanf(line, " X(%63[a-z0-9_])", x) == 1) {
            char full[128];
            snprintf(full, sizeof full, "tasks/%s_%s.c", kind, x);
            dep[from][module_of(full)] = 1;
            continue;
        }
        if (sscanf(line, " #include \"tasks/%255[^\"]\"", inc) == 1) {
            char full[300];
            snprintf(full, sizeof full, "tasks/%s", inc);
            int to = module_of(full);
            if (to != from)
                dep[from][to] = 1;
        }
    }
    fclose(f);
}

// Depth-first: level = 1 + the deepest dependency; a module met again while on the
// stack closes a cycle.
static int visit(int m, int depth) {
    if (state[m] == 2)
        return level[m];
    if (state[m] == 1) {
        snprintf(cycle, sizeof cycle, "%s", names[m]);
        return -1;
    }
    state[m] = 1;
    int lv = 0;
    for (int j = 0; j < n_modules; j++)
        if (dep[m][j]) {
            int l = visit(j, depth + 1);
            if (l < 0) {
                size_t used = strlen(cycle);
                snprintf(cycle + used, sizeof cycle - used, " <- %s", names[m]);
                return -1;
            }
            if (l + 1 > lv)
                lv = l + 1;
        }
    state[m] = 2;
    level[m] = lv;
    return lv;
}

static int lv(const char *name) {
    for (int i = 0; i < n_modules; i++)
        if (!strcmp(names[i], name))
            return level[i];
    ck_abort_msg("no module %s in tasks/", name);
    return -1;
}

START_TEST(no_loop_of_calls_among_tasks_files) {
    const char *pats[] = {"tasks/*.c", "tasks/*.h", "tasks/cuda/*.c", "tasks/cuda/*.h",
                          "tasks/cuda/*.cu"};
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        glob_t g;
        if (glob(pats[p], 0, NULL, &g) == 0)
            for (size_t i = 0; i < g.gl_pathc; i++)
                read_file(g.gl_pathv[i]);
        globfree(&g);
    }
    ck_assert_int_gt(n_modules, 10);
    for (int i = 0; i < n_modules; i++)
        ck_assert_msg(visit(i, 0) >= 0, "a loop of includes among tasks/ files: %s", cycle);
    int max = 0;
    for (int i = 0; i < n_modules; i++)
        max = level[i] > max ? level[i] : max;
    for (int l = max; l >= 0; l--) {
        fprintf(stderr, "layer %d:", l);
        for (int i = 0; i < n_modules; i++)
            if (level[i] == l)
                fprintf(stderr, " %s", names[i] + 6);
        fprintf(stderr, "\n");
    }
    ck_assert_int_gt(lv("tasks/train"), lv("tasks/task_run"));
    ck_assert_int_gt(lv("tasks/task_run"), lv("tasks/task_classify"));
    const char *tasks[] = {"tasks/task_classify", "tasks/task_forecast", "tasks/task_regress"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_gt(lv(tasks[i]), lv("tasks/model"));
    const char *heads[] = {"tasks/head_class", "tasks/head_forecast", "tasks/head_regress"};
    for (int i = 0; i < 3; i++) // the registry above its entries, the model above it
        ck_assert_int_gt(lv("tasks/head_registry"), lv(heads[i]));
    ck_assert_int_gt(lv("tasks/task_registry"), lv("tasks/task_classify"));
    const char *below[] = {"tasks/head_class", "tasks/head_forecast", "tasks/head_regress",
                           "tasks/head_registry", "tasks/loss", "tasks/trunk", "tasks/pool"};
    for (int i = 0; i < 7; i++)
        ck_assert_msg(lv(below[i]) < lv("tasks/model"), "%s is not below tasks/model", below[i]);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tasks_layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, no_loop_of_calls_among_tasks_files);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
