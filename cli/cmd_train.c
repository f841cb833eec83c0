// defines: cmd_train (ssmkit train CONFIG [--set k=v]... [--resume RUN_DIR])
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "tasks/train_classify.h"

static const char *USAGE = "ssmkit train CONFIG [--set section.key=value]... [--resume RUN_DIR]";

static void help(void) {
    printf("%s\n\n"
           "Trains the model CONFIG describes and evaluates it. The run folder\n"
           "(run.dir/run.name, default runs/<config name>) receives config.yaml,\n"
           "metrics.jsonl, last.safetensors, best.safetensors and confusion_test.csv;\n"
           "a one-line JSON summary goes to stdout.\n\n"
           "  --set k=v        override a config key (repeatable), e.g. --set optim.lr=3e-4\n"
           "  --resume DIR     continue the run in DIR from its last.safetensors, exactly\n",
           USAGE);
}

static void default_run_name(char *out, size_t n, const char *config_path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", config_path);
    char *base = basename(buf);
    char *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = 0;
    snprintf(out, n, "%s", base);
}

static void print_summary(const char *run_dir, const train_summary *s) {
    printf("{\"run\":\"%s\",\"steps\":%lld,\"epochs\":%lld,\"best_val_accuracy\":%.6g,"
           "\"test_accuracy\":%.6g,\"test_top5\":%.6g,\"test_macro_f1\":%.6g,\"test_loss\":%.6g,"
           "\"train_seconds\":%.1f,\"samples_per_s\":%.1f,\"stopped_early\":%s}\n",
           run_dir, (long long)s->steps, (long long)s->epochs_done, s->best_val_accuracy,
           s->test_accuracy, s->test_top5, s->test_macro_f1, s->test_loss, s->train_seconds,
           s->samples_per_second, s->stopped_early ? "true" : "false");
    fflush(stdout);
}

int cmd_train(int argc, char **argv) {
    cli_args a;
    int rc = cli_parse(&a, argc, argv, CLI_SET | CLI_RESUME, USAGE);
    if (rc || a.help) {
        if (a.help)
            help();
        return rc;
    }
    ssm_error err = {0};
    ssm_config cfg;
    if (cli_load_config(&cfg, &a, &err))
        return cli_fail("train", &err);
    if (cfg.task.name != SSM_TASK_CLASSIFY) {
        ssm_fail(&err, SSM_ECONFIG, "task.name: only classify is wired to `ssmkit train` so far");
        return cli_fail("train", &err);
    }
    cli_apply_threads(&cfg);

    char run_dir[2 * SSM_CFG_PATH_MAX];
    if (a.resume) {
        snprintf(run_dir, sizeof run_dir, "%s", a.resume);
    } else {
        char name[SSM_CFG_NAME_MAX];
        if (cfg.run.name[0])
            snprintf(name, sizeof name, "%s", cfg.run.name);
        else
            default_run_name(name, sizeof name, a.config);
        snprintf(run_dir, sizeof run_dir, "%s/%s", cfg.run.dir, name);
    }

    image_data data;
    classify_model model = {0};
    ssm_code code = image_data_open(&data, &cfg.data, (uint64_t)cfg.run.seed, 1, &err);
    if (code)
        return cli_fail("train", &err);
    classify_model_spec spec;
    char *yaml = NULL;
    code = cli_model_spec(&spec, &cfg, data.C, data.H, data.W, cfg.data.batch_size, &err);
    if (!code)
        code = classify_model_build(&model, &spec, &err);
    if (!code)
        code = cli_mkdirs(run_dir, &err);
    if (!code) {
        char path[3 * SSM_CFG_PATH_MAX];
        snprintf(path, sizeof path, "%s/config.yaml", run_dir);
        code = ssm_config_write(&cfg, path, &err);
    }
    if (!code)
        yaml = ssm_config_to_yaml_string(&cfg, &err);
    if (!code && !yaml)
        code = err.code ? err.code : SSM_ENOMEM;
    if (!code) {
        ssm_info("model: %zu parameters, %lld tokens of %lld, %d branches, %lld layers; arena %.1f MiB",
                 model.params.total, (long long)model.L, (long long)model.D, model.n_branches,
                 (long long)model.n_layers, model.arena.capacity / 1048576.0);
        ssm_info("run folder: %s", run_dir);
        const char *kill = getenv("SSMKIT_DEBUG_KILL_AT_STEP");
        ssm_metadata extra;
        ssm_metadata_init(&extra);
        code = cli_data_metadata(&extra, &data, &err);
        train_options o = {.cfg = &cfg, .run_dir = run_dir, .config_yaml = yaml,
                           .resume = a.resume != NULL,
                           .class_names = (const char *const *)data.train_ds.class_names,
                           .extra_meta = &extra, .kill_at_step = kill ? atoll(kill) : 0};
        train_summary s;
        if (!code)
            code = train_classify(&model, &data.train, data.has_val ? &data.val : NULL, &data.test, &o,
                              &s, &err);
        if (!code)
            print_summary(run_dir, &s);
        ssm_metadata_free(&extra);
    }
    free(yaml);
    classify_model_free(&model);
    image_data_close(&data);
    return code ? cli_fail("train", &err) : 0;
}
