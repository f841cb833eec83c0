// defines: cmd_train (ssmkit train CONFIG [--set k=v]... [--resume RUN_DIR]), cli_train_config,
//          cli_run_dir
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "tasks/schedule.h"
#include "tasks/task_run.h"
#include "tasks/train.h"

static const char *USAGE = "ssmkit train CONFIG [--set section.key=value]... [--resume RUN_DIR]";

static void help(void) {
    printf("%s\n\n"
           "Trains the model CONFIG describes and evaluates it. The run folder\n"
           "(run.dir/run.name, default runs/<config name>) receives config.yaml,\n"
           "metrics.jsonl, last.safetensors, best.safetensors (and confusion_test.csv\n"
           "for classification); a one-line JSON summary goes to stdout.\n\n"
           "  --set k=v        override a config key (repeatable), e.g. --set optim.lr=3e-4\n"
           "  --resume DIR     continue the run in DIR from its last.safetensors, exactly\n",
           USAGE);
}

static void default_run_name(char *out, size_t n, const char *config_path);

void cli_run_dir(char *out, size_t n, const ssm_config *cfg, const char *config_path) {
    char name[SSM_CFG_NAME_MAX];
    if (cfg->run.name[0])
        snprintf(name, sizeof name, "%s", cfg->run.name);
    else
        default_run_name(name, sizeof name, config_path);
    snprintf(out, n, "%s/%s", cfg->run.dir, name);
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

// One JSON line: run, steps, epochs, best_val_<primary metric>, test_<metric>
// for every test metric, train_seconds, samples_per_s, stopped_early.
static void print_summary(const char *run_dir, const char *primary, const train_result *r) {
    printf("{\"run\":\"%s\",\"steps\":%lld,\"epochs\":%lld,\"best_val_%s\":%.6g", run_dir,
           (long long)r->steps, (long long)r->epochs_done, primary, r->best_val);
    for (int i = 0; i < r->test.n; i++)
        printf(",\"test_%s\":%.6g", r->test.key[i], r->test.value[i]);
    printf(",\"train_seconds\":%.1f,\"samples_per_s\":%.1f,\"stopped_early\":%s}\n",
           r->train_seconds, r->samples_per_second, r->stopped_early ? "true" : "false");
    fflush(stdout);
}

// Trains cfg into run_dir (created; resume: continue the run there) and evaluates on
// the test split. *primary receives the task's primary metric name (static storage).
ssm_code cli_train_config(const ssm_config *cfg_in, const ssm_device *device, const char *run_dir,
                          int resume, train_result *r, const char **primary, int quiet,
                          ssm_error *err) {
    ssm_config cfg_copy = *cfg_in;
    ssm_config *cfgp = &cfg_copy;
    cli_data data;
    ssm_task *task = NULL;
    char *yaml = NULL;
    ssm_code code = cli_data_open(&data, cfgp, 1, err);
    if (code)
        return code;
    int64_t B_max = cfgp->data.batch_size > cfgp->data.eval_batch_size ? cfgp->data.batch_size
                                                                       : cfgp->data.eval_batch_size;
    code = task_create(&task, cfgp, &data.info, B_max, err);
    if (!code)
        code = cli_mkdirs(run_dir, err);
    if (!code) {
        char path[3 * SSM_CFG_PATH_MAX];
        snprintf(path, sizeof path, "%s/config.yaml", run_dir);
        code = ssm_config_write(cfgp, path, err);
    }
    if (!code)
        yaml = ssm_config_to_yaml_string(cfgp, err);
    if (!code && !yaml)
        code = err->code ? err->code : SSM_ENOMEM;
    if (!code) {
        const ssm_trunk *tr = task->trunk;
        char dn[32];
        if (!quiet) {
            ssm_info("model: %zu parameters, %lld sequence(s) of %lld tokens of %lld per "
                     "sample, %d branches, %lld layers, on %s",
                     task->params->total, (long long)tr->S, (long long)tr->L, (long long)tr->D,
                     tr->n_branches, (long long)tr->n_layers,
                     ssm_device_name(device, dn, sizeof dn));
            ssm_info("run folder: %s", run_dir);
        }
        const char *kill = getenv("SSMKIT_DEBUG_KILL_AT_STEP");
        ssm_metadata extra;
        ssm_metadata_init(&extra);
        code = cli_data_metadata(&extra, &data, err);
        // the loop's copy: step budgets scaled to this set (train.min_steps,
        // optim.warmup_fraction; tasks/schedule.h); config.yaml keeps what was written
        ssm_config loop_cfg = *cfgp;
        int64_t total = lr_schedule_resolve(&loop_cfg, ssm_batcher_batches_per_epoch(data.train));
        if (!quiet && (loop_cfg.train.epochs != cfgp->train.epochs ||
                       cfgp->optim.warmup_fraction > 0))
            ssm_info("schedule: %lld epochs, %lld steps, warmup %lld steps",
                     (long long)loop_cfg.train.epochs, (long long)total,
                     (long long)loop_cfg.optim.warmup_steps);
        train_options o = {.cfg = &loop_cfg, .run_dir = run_dir, .config_yaml = yaml,
                           .resume = resume,
                           .extra_meta = &extra, .kill_at_step = kill ? atoll(kill) : 0};
        if (!code)
            code = train_run(task, data.train, data.val, data.test, &o, r, err);
        if (!code && primary)
            *primary = task->primary;
        ssm_metadata_free(&extra);
    }
    free(yaml);
    task_free(task);
    cli_data_close(&data);
    return code;
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
    ssm_device device;
    if (cli_load_config(&cfg, &a, &err) || cli_open_device(&cfg, &device, &err))
        return cli_fail("train", &err);
    cli_apply_threads(&cfg);

    char run_dir[2 * SSM_CFG_PATH_MAX];
    if (!a.resume && cfg.train.resume[0])
        a.resume = cfg.train.resume; // the config's spelling of --resume
    if (a.resume) {
        snprintf(run_dir, sizeof run_dir, "%s", a.resume);
    } else {
        cli_run_dir(run_dir, sizeof run_dir, &cfg, a.config);
    }

    train_result r;
    const char *primary = NULL;
    ssm_code code = cli_train_config(&cfg, &device, run_dir, a.resume != NULL, &r, &primary, 0,
                                     &err);
    if (!code)
        print_summary(run_dir, primary, &r);
    return code ? cli_fail("train", &err) : 0;
}
