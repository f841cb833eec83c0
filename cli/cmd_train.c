// defines: cmd_train (ssmkit train CONFIG [--set k=v]... [--resume RUN_DIR]), cli_train_config,
//          cli_run_dir
// Under mpirun every rank runs this command (docs/distributed.md): MPI starts here, each
// rank takes its GPU (cuda:<local rank>) or its cores, its shard of the batches, and rank 0
// alone writes the run folder and the summary; an error on any rank ends the whole job.
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/distributed.h"
#include "core/log.h"
#include "tasks/schedule.h"
#if SSM_HAVE_CUDA
#include "core/cuda/nccl.h"
#endif
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

static int64_t env_int(const char *name, int64_t dflt) {
    const char *s = getenv(name);
    return s && *s ? atoll(s) : dflt;
}

// The ranks' shares of the data: every training batch cut into slices; the evaluation
// splits cut into ranges when the task can combine the ranks' metrics (else every rank
// evaluates the whole split, with the same result).
static ssm_code shard_data(cli_data *data, const ssm_task *task, const ssm_dist *d,
                           ssm_error *err) {
    SSM_TRY(ssm_batcher_shard(data->train, SSM_SHARD_BATCH, d->rank, d->size, err));
    ssm_batcher *eval[2] = {data->val, data->test};
    for (int i = 0; i < 2 && task->vt->eval_reduce; i++)
        if (eval[i])
            SSM_TRY(ssm_batcher_shard(eval[i], SSM_SHARD_SPLIT, d->rank, d->size, err));
    return SSM_OK;
}

// cli_train_config on the ranks of dist (NULL or inactive: one process).
static ssm_code train_ranks(const ssm_config *cfg_in, const ssm_device *device, const char *run_dir,
                            int resume, const ssm_dist *dist, train_result *r,
                            const char **primary, int quiet, ssm_error *err) {
    if (dist && !dist->active)
        dist = NULL;
    const int root = ssm_dist_is_root(dist);
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
    if (!code && dist) {
        task->dist = dist;
        code = shard_data(&data, task, dist, err);
    }
    if (!code && root)
        code = cli_mkdirs(run_dir, err);
    if (!code && root) {
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
        if (!quiet && dist)
            ssm_info("data parallel: %d ranks (%s%s), rank 0 writes the run folder", dist->size,
                     dist->dev ? dist->dev->name : "MPI", dist->dev ? " on the GPUs" : " on the CPUs");
        if (!quiet) {
            ssm_info("model: %zu parameters, %lld sequence(s) of %lld tokens of %lld per "
                     "sample, %d branches, %lld layers, on %s",
                     task->params->total, (long long)tr->S, (long long)tr->L, (long long)tr->D,
                     tr->n_branches, (long long)tr->n_layers,
                     ssm_device_name(device, dn, sizeof dn));
            if (tr->concat)
                ssm_info("model: its %d scan orders concatenated, the backbone scans %lld "
                         "tokens per sequence (adapter.order_layout: concat)", tr->n_cat,
                         (long long)tr->Lc);
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
                           .extra_meta = &extra, .kill_at_step = kill ? atoll(kill) : 0,
                           .kill_rank = (int)env_int("SSMKIT_DEBUG_KILL_RANK", 0),
                           .fail_at_step = env_int("SSMKIT_DEBUG_FAIL_AT_STEP", 0),
                           .fail_rank = (int)env_int("SSMKIT_DEBUG_FAIL_RANK", 0),
                           .rank_weights_dir = getenv("SSMKIT_DEBUG_RANK_WEIGHTS")};
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

// Trains cfg into run_dir (created; resume: continue the run there) and evaluates on
// the test split. *primary receives the task's primary metric name (static storage).
ssm_code cli_train_config(const ssm_config *cfg_in, const ssm_device *device, const char *run_dir,
                          int resume, train_result *r, const char **primary, int quiet,
                          ssm_error *err) {
    return train_ranks(cfg_in, device, run_dir, resume, NULL, r, primary, quiet, err);
}

// An error on one rank of a distributed run: printed with the rank, and the whole job ends
// (MPI_Abort) rather than leaving the other ranks waiting for this one in a collective.
static int rank_fail(ssm_dist *d, ssm_error *err) {
    if (!d->active)
        return cli_fail("train", err);
    ssm_error_prefix(err, "rank %d of %d: ", d->rank, d->size);
    int code = cli_fail("train", err);
    ssm_dist_abort(d, code, NULL);
    return code; // not reached: MPI_Abort ends this process too
}

// A rank's device and threads: GPU <local rank> for run.device cuda (several ranks per
// machine, one GPU each), and the cores the rank owns for run.threads 0.
static ssm_code rank_resources(ssm_config *cfg, const ssm_dist *d, ssm_error *err) {
    if (!d->active)
        return SSM_OK;
    if (!strcmp(cfg->run.device, "cuda"))
        snprintf(cfg->run.device, sizeof cfg->run.device, "cuda:%d", d->local_rank);
    if (cfg->run.threads == 0 && !getenv("OMP_NUM_THREADS"))
        cfg->run.threads = ssm_dist_cores(d);
    return SSM_OK;
}

// The NCCL reducer of GPU ranks (after the rank's GPU is current).
static ssm_code attach_device_reducer(ssm_dist *d, const ssm_config *cfg, const ssm_device *dev,
                                      ssm_error *err) {
    if (!d->active || dev->kind != SSM_DEVICE_CUDA) {
        if (d->active && cfg->run.grad_allreduce == SSM_ALLREDUCE_BF16)
            return ssm_fail(err, SSM_ECONFIG, "run.grad_allreduce: bf16 is for GPU ranks (NCCL); "
                            "CPU ranks sum fp32 gradients (set it to fp32)");
        return SSM_OK;
    }
#if SSM_HAVE_CUDA
    if (d->size == 1 && !ssm_nccl_available())
        return SSM_OK; // one GPU under mpirun, a build without NCCL: nothing to sum
    return ssm_nccl_attach(d, cfg->run.grad_allreduce == SSM_ALLREDUCE_BF16, err);
#else
    return ssm_fail(err, SSM_EDEVICE, "GPU ranks need a CUDA=1 build");
#endif
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
    ssm_dist dist;
    // first: a build without MPI started as one of several ranks stops here, on every rank
    if (ssm_dist_init(&dist, NULL, NULL, &err))
        return cli_fail("train", &err);
    if (dist.rank != 0 && !getenv("SSMKIT_LOG"))
        ssm_log_set_level(SSM_LOG_WARN); // one voice: rank 0 reports the run
    if (cli_load_config(&cfg, &a, &err) || rank_resources(&cfg, &dist, &err) ||
        cli_open_device(&cfg, &device, &err) || attach_device_reducer(&dist, &cfg, &device, &err))
        return rank_fail(&dist, &err);
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
    ssm_code code = train_ranks(&cfg, &device, run_dir, a.resume != NULL, &dist, &r, &primary, 0,
                                &err);
    if (code) {
        cli_blame_config(a.config, &err);
        return rank_fail(&dist, &err);
    }
    if (ssm_dist_is_root(&dist))
        print_summary(run_dir, primary, &r);
    ssm_dist_finalize(&dist);
    return 0;
}
