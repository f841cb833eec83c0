// defines: train_run (see train.h)
#include "tasks/train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/distributed.h"
#include "core/log.h"
#include "tasks/plot_run.h"
#include "tasks/progress.h"
#include "tasks/runlog.h"
#include "tasks/tensorboard.h"
#include "tasks/schedule.h"

#define META_OFFSET "offset"       // position inside the epoch the run stopped in
#define META_BAD_EVALS "bad_evals" // evaluations since the best one (patience)

typedef struct {
    int64_t step, epoch, offset, best_step, bad_evals;
    double best;
} loop_state;

static ssm_code save_checkpoint(const char *path, ssm_task *t, const train_options *o,
                                const loop_state *st, unsigned flags, ssm_error *err) {
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    ssm_code rc = ssm_metadata_set(&meta, SSM_META_CONFIG, o->config_yaml, err);
    for (size_t i = 0; !rc && o->extra_meta && i < o->extra_meta->count; i++)
        rc = ssm_metadata_set(&meta, o->extra_meta->items[i].key, o->extra_meta->items[i].value, err);
    if (!rc) rc = ssm_metadata_set_int(&meta, SSM_META_STEP, st->step, err);
    if (!rc) rc = ssm_metadata_set_int(&meta, SSM_META_EPOCH, st->epoch, err);
    if (!rc) rc = ssm_metadata_set_int(&meta, META_OFFSET, st->offset, err);
    if (!rc) rc = ssm_metadata_set_double(&meta, SSM_META_BEST_METRIC, st->best, err);
    if (!rc) rc = ssm_metadata_set_int(&meta, SSM_META_BEST_STEP, st->best_step, err);
    if (!rc) rc = ssm_metadata_set_int(&meta, META_BAD_EVALS, st->bad_evals, err);
    if (!rc) rc = ssm_metadata_set(&meta, SSM_META_VERSION, "0.1.0", err);
    if (!rc) rc = task_save_checkpoint(t, path, flags, &meta, err);
    ssm_metadata_free(&meta);
    return rc;
}

// A resumed position that no run can have written (issue 18: a step of -1 trained with a
// NaN schedule, an epoch of 2^63 - 1 overflowed, an infinite best could never be beaten).
// NaN is a legal best: no validation yet, or none at all.
#define RESUME_MAX_COUNT ((int64_t)1 << 48)
static ssm_code check_state(const loop_state *st, ssm_error *err) {
    const struct {
        const char *key;
        int64_t v, lo;
    } f[] = {{SSM_META_STEP, st->step, 0},          {SSM_META_EPOCH, st->epoch, 0},
             {META_OFFSET, st->offset, 0},          {SSM_META_BEST_STEP, st->best_step, -1},
             {META_BAD_EVALS, st->bad_evals, 0}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (f[i].v < f[i].lo || f[i].v > RESUME_MAX_COUNT)
            return ssm_fail(err, SSM_EFORMAT, "metadata %s = %lld, expected %lld..%lld", f[i].key,
                            (long long)f[i].v, (long long)f[i].lo, (long long)RESUME_MAX_COUNT);
    if (st->best_step > st->step)
        return ssm_fail(err, SSM_EFORMAT, "metadata %s = %lld is after %s = %lld",
                        SSM_META_BEST_STEP, (long long)st->best_step, SSM_META_STEP,
                        (long long)st->step);
    if (isinf(st->best))
        return ssm_fail(err, SSM_EFORMAT, "metadata %s = %g, expected a finite value (or nan: "
                        "none yet)", SSM_META_BEST_METRIC, st->best);
    return SSM_OK;
}

static ssm_code load_state(const char *path, ssm_task *t, loop_state *st, ssm_error *err) {
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    ssm_code rc = task_load_checkpoint(t, path, SSM_CKPT_OPTIMIZER, &meta, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, SSM_META_STEP, &st->step, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, SSM_META_EPOCH, &st->epoch, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, META_OFFSET, &st->offset, err);
    if (!rc) rc = ssm_metadata_get_double(&meta, SSM_META_BEST_METRIC, &st->best, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, SSM_META_BEST_STEP, &st->best_step, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, META_BAD_EVALS, &st->bad_evals, err);
    ssm_metadata_free(&meta);
    if (!rc) rc = check_state(st, err);
    if (rc)
        ssm_error_prefix(err, "resuming from %s: ", path);
    return rc;
}

// ---- data-parallel ranks (docs/distributed.md) -----------------------------------------
// The loop runs on every rank in lockstep: the same global batches, the same averaged
// gradients, hence the same weights, clipping, schedule and decisions. Rank 0 alone touches
// the run folder (logs, checkpoints, reports); what it reads from there (a resumed state, the
// best weights to test) reaches the others by broadcast, so they need no shared disk.

static int on_device(const ssm_task *t) { return t->model.device.kind == SSM_DEVICE_CUDA; }

// Samples of the global batch b is a shard of (b itself when it is not a shard).
static int64_t global_samples(const ssm_batch *b) { return b->global_B > 0 ? b->global_B : b->B; }

// Rank 0's weights (with the AdamW moments: with_moments) and loop state to every rank.
static ssm_code sync_from_root(ssm_task *t, const ssm_dist *d, loop_state *st, int with_moments,
                               ssm_error *err) {
    if (!d)
        return SSM_OK;
    ssm_params *p = t->params;
    const size_t bytes = p->total * sizeof(real);
    SSM_TRY(t->dev->to_host(p, t->work, err));
    SSM_TRY(ssm_dist_bcast(d, p->data, bytes, 0, err));
    if (with_moments) {
        SSM_TRY(ssm_dist_bcast(d, p->m, bytes, 0, err));
        SSM_TRY(ssm_dist_bcast(d, p->v, bytes, 0, err));
    }
    if (st)
        SSM_TRY(ssm_dist_bcast(d, st, sizeof *st, 0, err));
    return d->rank ? t->dev->to_device(t->work, p, err) : SSM_OK;
}

// Every rank holds rank 0's weights, bit for bit (a fingerprint of the host copy compared
// across ranks): checked at each epoch's end, where rank 0 saves last.safetensors.
static ssm_code check_same_weights(ssm_task *t, const ssm_dist *d, int64_t step, ssm_error *err) {
    if (!d || d->size < 2)
        return SSM_OK;
    SSM_TRY(t->dev->to_host(t->params, t->work, err));
    char what[64];
    snprintf(what, sizeof what, "the weights after step %lld", (long long)step);
    return ssm_dist_check_same(d, ssm_dist_hash(t->params->data, t->params->total * sizeof(real)),
                               what, err);
}

// One step's gradient over the ranks: this rank's mean over its shard (b->B samples),
// weighted by its share of the global batch, summed; *loss likewise becomes the global
// batch's mean loss. The losses are means over samples (or over a fixed number of values
// per sample: forecast horizons), so the share is B / global_B, which also covers a last
// batch that does not divide evenly and a rank whose shard is empty.
static ssm_code average_over_ranks(ssm_task *t, const ssm_dist *d, const ssm_batch *b,
                                   double *loss, ssm_error *err) {
    if (!d)
        return SSM_OK;
    const double share = (double)b->B / (double)global_samples(b);
    ssm_params *p = t->work;
    SSM_TRY(ssm_dist_grad_average(d, p->grad, p->total, share, on_device(t), err));
    double l = b->B ? *loss * share : 0;
    SSM_TRY(ssm_dist_allreduce(d, &l, 1, SSM_DIST_DOUBLE, err));
    *loss = l;
    return SSM_OK;
}

// Testing aid: every rank's final weights as <dir>/rank<R>.safetensors (the distributed
// tests compare them byte for byte).
static ssm_code save_rank_weights(ssm_task *t, const train_options *o, ssm_error *err) {
    if (!o->rank_weights_dir)
        return SSM_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/rank%d.safetensors", o->rank_weights_dir,
             t->dist ? t->dist->rank : 0);
    return task_save_checkpoint(t, path, 0, NULL, err);
}

// The run's two logs: metrics.jsonl always, a TensorBoard event file when
// run.tensorboard is on (tb.f non-NULL). A TensorBoard write that fails is
// reported once and then skipped: losing curves must not stop training.
typedef struct {
    runlog jsonl;
    tb_writer tb;
} run_logs;

static void tb_point(run_logs *lg, const char *split, const char *key, double v, int64_t step) {
    if (!lg->tb.f)
        return;
    char tag[96];
    snprintf(tag, sizeof tag, "%s/%s", split, key);
    ssm_error e;
    if (tb_scalar(&lg->tb, tag, v, step, &e)) {
        ssm_warn("TensorBoard log off: %s", e.msg);
        tb_close(&lg->tb);
    }
}

static void log_eval(run_logs *lg, const char *split, const loop_state *st, const task_metrics *m) {
    runlog *rl = &lg->jsonl;
    if (!rl->f) // a rank other than 0 keeps no logs
        return;
    for (int i = 0; i < m->n; i++)
        tb_point(lg, split, m->key[i], m->value[i], st->step);
    runlog_begin(rl);
    runlog_str(rl, "kind", "eval");
    runlog_str(rl, "split", split);
    runlog_int(rl, "epoch", st->epoch);
    runlog_int(rl, "step", st->step);
    for (int i = 0; i < m->n; i++)
        runlog_num(rl, m->key[i], m->value[i]);
    runlog_end(rl);
}

static void print_metrics(const ssm_task *t, const char *head, const task_metrics *m,
                          const char *tail) {
    if (!ssm_dist_is_root(t->dist))
        return;
    fprintf(stderr, "%s", head);
    for (int i = 0; i < m->n; i++)
        fprintf(stderr, " %s %.4f", m->key[i], m->value[i]);
    fprintf(stderr, "%s\n", tail);
}

static ssm_code run_test(ssm_task *t, ssm_batcher *test, const train_options *o, loop_state *st,
                         run_logs *rl, train_result *r, ssm_error *err) {
    // test_checkpoint last: the weights in memory are the last step's. A
    // cosine schedule ends on converged weights, and a small validation split
    // (3000 samples: +-0.5% noise) can pick an earlier epoch by chance.
    const int use_last = o->cfg->train.test_checkpoint == SSM_TEST_LAST;
    const ssm_dist *d = t->dist && t->dist->active ? t->dist : NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/best.safetensors", o->run_dir);
    int have_best = 0; // rank 0 reads the run folder; the others take its weights
    if (ssm_dist_is_root(d)) {
        FILE *f = use_last ? NULL : fopen(path, "rb");
        if (f) {
            fclose(f);
            have_best = 1;
            SSM_TRY(task_load_checkpoint(t, path, 0, NULL, err));
        }
    }
    SSM_TRY(ssm_dist_bcast(d, &have_best, sizeof have_best, 0, err));
    if (have_best)
        SSM_TRY(sync_from_root(t, d, NULL, 0, err));
    SSM_TRY(task_evaluate(t, test, &r->test, err));
    log_eval(rl, "test", st, &r->test);
    print_metrics(t, use_last ? "test (last step):" : "test (best checkpoint):", &r->test, "");
    if (!ssm_dist_is_root(d))
        return SSM_OK;
    return t->vt->test_report ? t->vt->test_report(t, o->run_dir, err) : SSM_OK;
}

static ssm_code validate(ssm_task *t, ssm_batcher *val, loop_state *st, run_logs *rl,
                         train_result *r, int *improved, ssm_error *err) {
    SSM_TRY(task_evaluate(t, val, &r->val, err));
    log_eval(rl, "val", st, &r->val);
    double v = task_metrics_get(&r->val, t->primary);
    *improved = isnan(st->best) || (t->lower_is_better ? !(v >= st->best) : !(v <= st->best));
    // every rank computed the same metrics; rank 0's verdict is taken all the same, so that
    // no rank can stop early (or save) alone
    if (t->dist && t->dist->active)
        SSM_TRY(ssm_dist_bcast(t->dist, improved, sizeof *improved, 0, err));
    char head[64];
    // st->epoch already counts the epoch just finished (the batcher moved on)
    snprintf(head, sizeof head, "epoch %lld: val", (long long)st->epoch);
    print_metrics(t, head, &r->val, *improved ? " (best)" : "");
    if (*improved) {
        st->best = v;
        st->best_step = st->step;
        st->bad_evals = 0;
    } else {
        st->bad_evals++;
    }
    return SSM_OK;
}

// train.cuda_graph: the step as CUDA graphs where it can be (one GPU, one process); said once.
static int use_cuda_graph(const ssm_task *t, const ssm_config *cfg, const ssm_dist *dist,
                          int root) {
    if (!cfg->train.cuda_graph)
        return 0;
    // a dropout mask is keyed by the step, and a kernel's arguments are frozen in the graph
    const int drops = cfg->backbone.dropout > 0 || cfg->backbone.mixer_dropout > 0 ||
                      cfg->adapter.dropout > 0;
    const char *why = !on_device(t) ? "the model is on the CPU"
                      : dist       ? "data-parallel ranks all-reduce mid-step"
                      : drops      ? "dropout draws new masks every step, and a graph replays "
                                     "its kernels' arguments as captured"
                                   : NULL;
    if (root) {
        if (why)
            ssm_info("train.cuda_graph: off (%s); the step runs eagerly", why);
        else
            ssm_info("train.cuda_graph: on (each batch shape captured after one eager step%s)",
                     t->model.trunk.ragged ? "; this ragged model's batches stay eager" : "");
    }
    return why == NULL;
}

ssm_code train_run(ssm_task *t, ssm_batcher *train, ssm_batcher *val, ssm_batcher *test,
                   const train_options *o, train_result *r, ssm_error *err) {
    const ssm_config *cfg = o->cfg;
    memset(r, 0, sizeof *r);
    r->best_val = NAN;

    int64_t per_epoch = ssm_batcher_batches_per_epoch(train);
    if (per_epoch < 1)
        return ssm_fail(err, SSM_EDATA, "the training split has no full batch (batch size %lld)",
                        (long long)cfg->data.batch_size);
    // Counted, not epochs * per_epoch: a ragged epoch may pack more or fewer batches than
    // epoch 0, and the cosine must end where the training does.
    int64_t total, warmup = cfg->optim.warmup_steps;
    SSM_TRY(ssm_batcher_batches_in_epochs(train, 0, cfg->train.epochs, cfg->train.max_steps,
                                          &total, err));
    if (warmup <= 0)
        SSM_TRY(ssm_batcher_batches_in_epochs(train, 0, cfg->optim.warmup_epochs, 0, &warmup,
                                              err));
    if (cfg->train.max_steps > 0 && cfg->train.max_steps < total)
        total = cfg->train.max_steps;
    lr_schedule sched = {
        .lr = cfg->optim.lr,
        .min_lr = cfg->optim.min_lr,
        .warmup_steps = warmup,
        .total_steps = total,
        .cosine = cfg->optim.schedule == SSM_SCHED_COSINE,
        .linear = cfg->optim.schedule == SSM_SCHED_LINEAR,
        .step = cfg->optim.schedule == SSM_SCHED_STEP,
        .per_epoch = per_epoch,
        .step_epochs = cfg->optim.step_epochs,
        .gamma = cfg->optim.step_gamma,
    };

    loop_state st = {.best = NAN, .best_step = -1};
    char last[1200], best[1200], path[1200];
    snprintf(last, sizeof last, "%s/last.safetensors", o->run_dir);
    snprintf(best, sizeof best, "%s/best.safetensors", o->run_dir);
    const ssm_dist *dist = t->dist && t->dist->active ? t->dist : NULL;
    const int root = ssm_dist_is_root(dist);
    if (o->resume && root) {
        SSM_TRY(load_state(last, t, &st, err));
        int stale = ssm_atomic_remove_leftovers(o->run_dir); // a save the kill cut short
        if (stale)
            ssm_info("removed %d temp file(s) a killed save left in %s", stale, o->run_dir);
    }
    // the ranks start from rank 0's weights (its seed's, or the resumed ones) and position
    SSM_TRY(sync_from_root(t, dist, &st, 1, err));
    if (o->resume) {
        SSM_TRY(ssm_batcher_seek(train, st.epoch, st.offset, err));
        ssm_info("resumed from %s at step %lld (epoch %lld, sample %lld)", last,
                 (long long)st.step, (long long)st.epoch + 1, (long long)st.offset);
    }
    run_logs rl = {0};
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->run_dir);
    if (root)
        SSM_TRY(runlog_open(&rl.jsonl, path, err));
    if (cfg->run.tensorboard && root) {
        ssm_code trc = tb_open(&rl.tb, o->run_dir, err);
        if (trc) {
            runlog_close(&rl.jsonl);
            return trc;
        }
    }

    ssm_params *params = t->work; // the step's parameters: on the task's device
    const int graph = use_cuda_graph(t, cfg, dist, root);
    ssm_code rc = SSM_OK;
    double t0 = progress_now();
    int64_t samples = 0;
    int done = st.step >= total;
    while (!done && st.epoch < cfg->train.epochs) {
        progress pr;
        int64_t steps = per_epoch, before = 0; // this epoch's batches, those before a resume
        if ((rc = ssm_batcher_batches_before(train, st.epoch, train->n, &steps, err)) ||
            (rc = ssm_batcher_batches_before(train, st.epoch, st.offset, &before, err)))
            goto out;
        progress_begin(&pr, stderr, st.epoch + 1, cfg->train.epochs, steps, cfg->train.log_every,
                       root ? (int)cfg->run.progress : PROGRESS_OFF);
        pr.step = before;
        for (;;) {
            const ssm_batch *b;
            if ((rc = ssm_batcher_next(train, &b, err)))
                goto out;
            if (!b)
                break;
            double loss = 0, gnorm = 0; // a rank's shard may be empty (B 0): its share is 0
            double lr = lr_schedule_at(&sched, st.step);
            if (graph) { // the whole step, clipping and AdamW included (tasks/model.h)
                model_step_opts so = {.oc = &cfg->optim, .max_norm = cfg->optim.grad_clip,
                                      .lr = lr, .t = st.step + 1};
                rc = task_train_step_graph(t, b, &so, &loss, &gnorm, err);
            } else {
                rc = b->B > 0 ? task_loss_and_grad(t, b, &loss, err) : SSM_OK;
                if (!rc)
                    rc = average_over_ranks(t, dist, b, &loss, err);
            }
            if (rc) {
                ssm_error_prefix(err, "step %lld (epoch %lld): ", (long long)st.step + 1,
                                 (long long)st.epoch + 1);
                goto out;
            }
            if (!graph && (rc = t->dev->clip(params, cfg->optim.grad_clip, &gnorm, err)))
                goto out;
            if (!isfinite(gnorm)) { // the graph's AdamW left the weights as they were
                rc = ssm_fail(err, SSM_EDATA,
                              "step %lld: gradient norm is %g: training diverged (lower optim.lr, "
                              "set optim.grad_clip)", (long long)st.step + 1, gnorm);
                goto out;
            }
            if (!graph && (rc = t->dev->adamw(params, &cfg->optim, lr, st.step + 1, err)))
                goto out;
            st.step++;
            samples += global_samples(b);
            progress_update(&pr, loss, lr, global_samples(b));
            if (root && cfg->train.log_every > 0 && st.step % cfg->train.log_every == 0) {
                runlog_begin(&rl.jsonl);
                runlog_str(&rl.jsonl, "kind", "step");
                runlog_int(&rl.jsonl, "step", st.step);
                runlog_int(&rl.jsonl, "epoch", st.epoch);
                runlog_num(&rl.jsonl, "loss", loss);
                runlog_num(&rl.jsonl, "lr", lr);
                runlog_num(&rl.jsonl, "grad_norm", gnorm);
                double rate = samples / fmax(progress_now() - t0, 1e-9);
                runlog_num(&rl.jsonl, "samples_per_s", rate);
                runlog_end(&rl.jsonl);
                tb_point(&rl, "train", "loss", loss, st.step);
                tb_point(&rl, "train", "lr", lr, st.step);
                tb_point(&rl, "train", "grad_norm", gnorm, st.step);
                tb_point(&rl, "train", "samples_per_s", rate, st.step);
            }
            ssm_batcher_tell(train, &st.epoch, &st.offset);
            int ckpt = cfg->train.checkpoint_every > 0 && st.step % cfg->train.checkpoint_every == 0;
            if (ckpt && root && (rc = save_checkpoint(last, t, o, &st, SSM_CKPT_OPTIMIZER, err)))
                goto out;
            if (st.step >= total) {
                done = 1;
                break;
            }
            const int me = dist ? dist->rank : 0;
            if (o->kill_at_step > 0 && st.step == o->kill_at_step &&
                (o->kill_rank < 0 || o->kill_rank == me))
                raise(SIGKILL); // the resume test's crash: no cleanup, no final checkpoint
            if (o->fail_at_step > 0 && st.step == o->fail_at_step && o->fail_rank == me) {
                rc = ssm_fail(err, SSM_EIO, "step %lld: the failure SSMKIT_DEBUG_FAIL_AT_STEP "
                              "asked for", (long long)st.step);
                goto out;
            }
        }
        progress_end(&pr);
        // The epoch is over (or the step budget is): the next position is the next epoch.
        ssm_batcher_tell(train, &st.epoch, &st.offset);
        if (done && st.offset != 0) {
            st.epoch++;
            st.offset = 0;
        }
        int last_epoch = done || st.epoch >= cfg->train.epochs;
        int improved = 0;
        int64_t every = cfg->train.eval_every_epochs > 0 ? cfg->train.eval_every_epochs : 1;
        if (val && (st.epoch % every == 0 || last_epoch)) {
            if ((rc = validate(t, val, &st, &rl, r, &improved, err)))
                goto out;
        }
        // last before best: a run killed between the two saves still resumes from last
        if ((rc = check_same_weights(t, dist, st.step, err)) ||
            (root && (rc = save_checkpoint(last, t, o, &st, SSM_CKPT_OPTIMIZER, err))))
            goto out;
        if (improved && root && (rc = save_checkpoint(best, t, o, &st, 0, err)))
            goto out;
        if (root)
            plot_run_curves(o->run_dir, t->primary, t->lower_is_better); // curves.png, from the log
        if (val && cfg->train.patience > 0 && st.bad_evals >= cfg->train.patience) {
            if (root)
                ssm_info("early stop: no better validation %s in %lld evaluations", t->primary,
                         (long long)st.bad_evals);
            r->stopped_early = 1;
            break;
        }
    }
    r->train_seconds = progress_now() - t0;
    if (graph && root) {
        model_graph_stats gs = model_graph_stats_of(&t->model);
        ssm_info("train.cuda_graph: %lld steps replayed, %lld captured, %lld eager",
                 (long long)gs.replayed, (long long)gs.captured, (long long)gs.eager);
    }
    r->samples_per_second = samples / fmax(r->train_seconds, 1e-9);
    rc = save_rank_weights(t, o, err);
    if (!rc && !val && root) // without validation the final weights are the ones to test
        rc = save_checkpoint(best, t, o, &st, 0, err);
    if (!rc && test)
        rc = run_test(t, test, o, &st, &rl, r, err);
out:
    r->steps = st.step;
    r->epochs_done = st.epoch;
    r->best_val = st.best;
    r->best_step = st.best_step;
    runlog_close(&rl.jsonl);
    tb_close(&rl.tb);
    return rc;
}
