// defines: cmd_cv (ssmkit cv CONFIG [--folds K] [--repeats R] [--set k=v]...)
// Cross-validation, as MIL papers report Musk and CAMELYON: one model per fold (and per
// repeat of the fold assignment), each trained exactly as `ssmkit train` would with
// data.fold / data.repeat set, into <run>/r<R>_f<F>/. The data recipe decides what a fold
// is (seeded stratified folds, or CLAM's splits_<k>.csv: docs/tasks.md "Cross-validation").
// Writes <run>/cv_folds.csv (one row per fold: its test metrics) and <run>/cv_summary.json
// (mean and sample standard deviation of each metric), and prints the table.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/log.h"

static const char *USAGE = "ssmkit cv CONFIG [--folds K] [--repeats R] [--set section.key=value]...";

static void help(void) {
    printf("%s\n\n"
           "Cross-validation: trains one model per fold (data.folds folds, repeated\n"
           "data.repeats times with fresh seeded fold assignments) and tests each on its\n"
           "held-out fold. Writes <run>/r<R>_f<F>/ (a normal run folder per fold),\n"
           "<run>/cv_folds.csv and <run>/cv_summary.json, and prints mean +- std.\n\n"
           "  --folds K     number of folds (overrides data.folds)\n"
           "  --repeats R   repeats of the whole K-fold split (overrides data.repeats)\n"
           "  --set k=v     override a config key (repeatable)\n",
           USAGE);
}

#define CV_MAX_RUNS 1000

typedef struct {
    int n_runs;
    int repeat[CV_MAX_RUNS], fold[CV_MAX_RUNS];
    task_metrics test[CV_MAX_RUNS];
} cv_table;

static void mean_std(const cv_table *t, int k, double *mean, double *sd) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int i = 0; i < t->n_runs; i++) {
        double v = task_metrics_get(&t->test[i], t->test[0].key[k]);
        if (isnan(v))
            continue;
        s += v;
        n++;
    }
    *mean = n ? s / n : NAN;
    for (int i = 0; i < t->n_runs; i++) {
        double v = task_metrics_get(&t->test[i], t->test[0].key[k]);
        if (!isnan(v))
            s2 += (v - *mean) * (v - *mean);
    }
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : NAN;
}

static ssm_code write_csv(const cv_table *t, const char *path, ssm_error *err) {
    ssm_atomic_file f;
    SSM_TRY(ssm_atomic_open(&f, path, err));
    fprintf(f.f, "repeat,fold");
    for (int k = 0; k < t->test[0].n; k++)
        fprintf(f.f, ",%s", t->test[0].key[k]);
    fprintf(f.f, "\n");
    for (int i = 0; i < t->n_runs; i++) {
        fprintf(f.f, "%d,%d", t->repeat[i], t->fold[i]);
        for (int k = 0; k < t->test[0].n; k++)
            fprintf(f.f, ",%.17g", task_metrics_get(&t->test[i], t->test[0].key[k]));
        fprintf(f.f, "\n");
    }
    return ssm_atomic_commit(&f, err);
}

static ssm_code write_json(const cv_table *t, int folds, int repeats, const char *path,
                           ssm_error *err) {
    ssm_atomic_file f;
    SSM_TRY(ssm_atomic_open(&f, path, err));
    fprintf(f.f, "{\"folds\":%d,\"repeats\":%d,\"runs\":%d", folds, repeats, t->n_runs);
    for (int k = 0; k < t->test[0].n; k++) {
        double m, sd;
        mean_std(t, k, &m, &sd);
        fprintf(f.f, ",\"%s_mean\":%.17g,\"%s_std\":%.17g", t->test[0].key[k], m,
                t->test[0].key[k], isnan(sd) ? 0.0 : sd);
    }
    fprintf(f.f, "}\n");
    return ssm_atomic_commit(&f, err);
}

static void print_table(const cv_table *t) {
    printf("%-8s %-5s", "repeat", "fold");
    for (int k = 0; k < t->test[0].n; k++)
        printf(" %12s", t->test[0].key[k]);
    printf("\n");
    for (int i = 0; i < t->n_runs; i++) {
        printf("%-8d %-5d", t->repeat[i], t->fold[i]);
        for (int k = 0; k < t->test[0].n; k++)
            printf(" %12.4f", task_metrics_get(&t->test[i], t->test[0].key[k]));
        printf("\n");
    }
    printf("%-14s", "mean +- std");
    for (int k = 0; k < t->test[0].n; k++) {
        double m, sd;
        mean_std(t, k, &m, &sd);
        char cell[32];
        snprintf(cell, sizeof cell, "%.4f+-%.4f", m, isnan(sd) ? 0.0 : sd);
        printf(" %12s", cell);
    }
    printf("\n");
    fflush(stdout);
}

int cmd_cv(int argc, char **argv) {
    cli_args a;
    int rc = cli_parse(&a, argc, argv, CLI_SET | CLI_FOLDS, USAGE);
    if (rc || a.help) {
        if (a.help)
            help();
        return rc;
    }
    ssm_error err = {0};
    ssm_config cfg;
    ssm_device device;
    if (cli_load_config(&cfg, &a, &err) || cli_open_device(&cfg, &device, &err))
        return cli_fail("cv", &err);
    if (a.folds)
        cfg.data.folds = a.folds;
    if (a.repeats)
        cfg.data.repeats = a.repeats;
    if (cfg.data.folds < 2) {
        ssm_fail(&err, SSM_ECONFIG, "cv needs data.folds >= 2 (or --folds K); it is %lld",
                 (long long)cfg.data.folds);
        return cli_fail("cv", &err);
    }
    if (cfg.data.folds * cfg.data.repeats > CV_MAX_RUNS) {
        ssm_fail(&err, SSM_ECONFIG, "%lld folds x %lld repeats: at most %d runs",
                 (long long)cfg.data.folds, (long long)cfg.data.repeats, CV_MAX_RUNS);
        return cli_fail("cv", &err);
    }
    cli_apply_threads(&cfg);
    char base[2 * SSM_CFG_PATH_MAX];
    cli_run_dir(base, sizeof base, &cfg, a.config);
    cv_table *t = calloc(1, sizeof *t);
    if (!t) {
        ssm_fail(&err, SSM_ENOMEM, "out of memory");
        return cli_fail("cv", &err);
    }
    ssm_code code = cli_mkdirs(base, &err);
    for (int64_t r = 0; !code && r < cfg.data.repeats; r++)
        for (int64_t f = 0; !code && f < cfg.data.folds; f++) {
            ssm_config c = cfg;
            c.data.repeat = r;
            c.data.fold = f;
            char dir[3 * SSM_CFG_PATH_MAX];
            snprintf(dir, sizeof dir, "%s/r%lld_f%lld", base, (long long)r, (long long)f);
            ssm_info("cv: repeat %lld/%lld, fold %lld/%lld -> %s", (long long)r + 1,
                     (long long)cfg.data.repeats, (long long)f + 1, (long long)cfg.data.folds, dir);
            train_result res;
            const char *primary = NULL;
            code = cli_train_config(&c, &device, dir, 0, &res, &primary, 1, &err);
            if (code) {
                ssm_error_prefix(&err, "fold %lld of repeat %lld: ", (long long)f, (long long)r);
                break;
            }
            t->repeat[t->n_runs] = (int)r;
            t->fold[t->n_runs] = (int)f;
            t->test[t->n_runs++] = res.test;
            ssm_info("cv: fold %lld: test %s = %.4f", (long long)f, primary,
                     task_metrics_get(&res.test, primary));
        }
    if (!code && t->n_runs && t->test[0].n) {
        char path[3 * SSM_CFG_PATH_MAX];
        snprintf(path, sizeof path, "%s/cv_folds.csv", base);
        code = write_csv(t, path, &err);
        snprintf(path, sizeof path, "%s/cv_summary.json", base);
        if (!code)
            code = write_json(t, (int)cfg.data.folds, (int)cfg.data.repeats, path, &err);
        if (!code)
            print_table(t);
    }
    free(t);
    if (code)
        cli_blame_config(a.config, &err);
    return code ? cli_fail("cv", &err) : 0;
}
