// defines: train_classify, evaluate_classify (see train_classify.h)
#include "tasks/train_classify.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "core/checkpoint.h"
#include "core/log.h"
#include "kernels/loss.h"
#include "kernels/optim.h"
#include "tasks/progress.h"
#include "tasks/runlog.h"
#include "tasks/schedule.h"

#define META_OFFSET "offset"       // position inside the epoch the run stopped in
#define META_BAD_EVALS "bad_evals" // evaluations since the best one (patience)

ssm_code evaluate_classify(classify_model *m, ssm_batcher *bt, class_metrics *cm, double *loss,
                           ssm_error *err) {
    double sum = 0;
    int64_t n = 0;
    for (;;) {
        const ssm_batch *b;
        SSM_TRY(ssm_batcher_next(bt, &b, err));
        if (!b)
            break;
        SSM_TRY(classify_model_forward(m, b->x, b->B, err));
        cross_entropy_forward(m->losses, m->probs, m->logits, b->y, b->B, m->V, 0);
        for (int64_t i = 0; i < b->B; i++)
            sum += m->losses[i];
        n += b->B;
        SSM_TRY(class_metrics_add(cm, m->logits, b->y, b->B, err));
    }
    *loss = n ? sum / (double)n : NAN;
    return SSM_OK;
}

// One AdamW step over the flat buffer, tensor by tensor so that the no-decay
// flag (norms, biases, A_log, D, positions, class tokens) is honoured.
static void optimizer_step(ssm_params *p, const ssm_optim_config *oc, double lr, int64_t t) {
    for (size_t i = 0; i < p->count; i++) {
        const ssm_param_info *it = &p->items[i];
        double wd = (it->flags & SSM_PARAM_NO_DECAY) ? 0.0 : oc->weight_decay;
        adamw_update(p->data + it->offset, p->grad + it->offset, p->m + it->offset,
                     p->v + it->offset, (int64_t)it->numel, (float)lr, (float)oc->beta1,
                     (float)oc->beta2, (float)oc->eps, (float)wd, t);
    }
}

typedef struct {
    int64_t step, epoch, offset, best_step, bad_evals;
    double best;
} loop_state;

static ssm_code save_checkpoint(const char *path, const classify_model *m, const train_options *o,
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
    if (!rc) rc = ssm_checkpoint_save(path, &m->params, flags, &meta, err);
    ssm_metadata_free(&meta);
    return rc;
}

static ssm_code load_state(const char *path, classify_model *m, loop_state *st, ssm_error *err) {
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    ssm_code rc = ssm_checkpoint_load(path, &m->params, SSM_CKPT_OPTIMIZER, &meta, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, SSM_META_STEP, &st->step, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, SSM_META_EPOCH, &st->epoch, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, META_OFFSET, &st->offset, err);
    if (!rc) rc = ssm_metadata_get_double(&meta, SSM_META_BEST_METRIC, &st->best, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, SSM_META_BEST_STEP, &st->best_step, err);
    if (!rc) rc = ssm_metadata_get_int(&meta, META_BAD_EVALS, &st->bad_evals, err);
    ssm_metadata_free(&meta);
    if (rc)
        ssm_error_prefix(err, "resuming from %s: ", path);
    return rc;
}

static void log_eval(runlog *rl, const char *split, const loop_state *st, double loss,
                     const class_metrics *cm) {
    runlog_begin(rl);
    runlog_str(rl, "kind", "eval");
    runlog_str(rl, "split", split);
    runlog_int(rl, "epoch", st->epoch);
    runlog_int(rl, "step", st->step);
    runlog_num(rl, "loss", loss);
    runlog_num(rl, "accuracy", class_metrics_accuracy(cm));
    runlog_num(rl, "top5", class_metrics_topk_accuracy(cm));
    runlog_num(rl, "macro_f1", class_metrics_macro_f1(cm));
    runlog_end(rl);
}

static ssm_code run_test(classify_model *m, ssm_batcher *test, const train_options *o,
                         loop_state *st, runlog *rl, train_summary *s, ssm_error *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/best.safetensors", o->run_dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        SSM_TRY(ssm_checkpoint_load(path, &m->params, 0, NULL, err));
    }
    class_metrics cm;
    SSM_TRY(class_metrics_init(&cm, m->V, 5, err));
    double loss;
    ssm_code rc = evaluate_classify(m, test, &cm, &loss, err);
    if (!rc) {
        log_eval(rl, "test", st, loss, &cm);
        s->test_accuracy = class_metrics_accuracy(&cm);
        s->test_top5 = class_metrics_topk_accuracy(&cm);
        s->test_macro_f1 = class_metrics_macro_f1(&cm);
        s->test_loss = loss;
        snprintf(path, sizeof path, "%s/confusion_test.csv", o->run_dir);
        rc = class_metrics_write_confusion_csv(&cm, path, o->class_names, err);
    }
    class_metrics_free(&cm);
    return rc;
}

static ssm_code validate(classify_model *m, ssm_batcher *val, const train_options *o,
                         loop_state *st, runlog *rl, int *improved, ssm_error *err) {
    class_metrics cm;
    SSM_TRY(class_metrics_init(&cm, m->V, 5, err));
    double loss;
    ssm_code rc = evaluate_classify(m, val, &cm, &loss, err);
    if (!rc) {
        log_eval(rl, "val", st, loss, &cm);
        double acc = class_metrics_accuracy(&cm);
        *improved = !(acc <= st->best) || isnan(st->best);
        fprintf(stderr, "epoch %lld: val loss %.4f accuracy %.4f top5 %.4f macro-F1 %.4f%s\n",
                (long long)st->epoch + 1, loss, acc, class_metrics_topk_accuracy(&cm),
                class_metrics_macro_f1(&cm), *improved ? " (best)" : "");
        if (*improved) {
            st->best = acc;
            st->best_step = st->step;
            st->bad_evals = 0;
        } else {
            st->bad_evals++;
        }
    }
    class_metrics_free(&cm);
    return rc;
}

ssm_code train_classify(classify_model *m, ssm_batcher *train, ssm_batcher *val, ssm_batcher *test,
                        const train_options *o, train_summary *s, ssm_error *err) {
    const ssm_config *cfg = o->cfg;
    memset(s, 0, sizeof *s);
    s->best_val_accuracy = s->test_accuracy = s->test_top5 = s->test_macro_f1 = s->test_loss = NAN;
    if (cfg->train.ema > 0)
        return ssm_fail(err, SSM_ECONFIG, "train.ema: weight EMA is not available yet; set it to 0");

    int64_t per_epoch = ssm_batcher_batches_per_epoch(train);
    if (per_epoch < 1)
        return ssm_fail(err, SSM_EDATA, "the training split has no full batch (batch size %lld)",
                        (long long)cfg->data.batch_size);
    int64_t total = cfg->train.epochs * per_epoch;
    if (cfg->train.max_steps > 0 && cfg->train.max_steps < total)
        total = cfg->train.max_steps;
    lr_schedule sched = {
        .lr = cfg->optim.lr,
        .min_lr = cfg->optim.min_lr,
        .warmup_steps = cfg->optim.warmup_steps > 0 ? cfg->optim.warmup_steps
                                                    : cfg->optim.warmup_epochs * per_epoch,
        .total_steps = total,
        .cosine = cfg->optim.schedule == SSM_SCHED_COSINE,
    };

    loop_state st = {.best = NAN, .best_step = -1};
    char last[1200], best[1200], path[1200];
    snprintf(last, sizeof last, "%s/last.safetensors", o->run_dir);
    snprintf(best, sizeof best, "%s/best.safetensors", o->run_dir);
    if (o->resume) {
        SSM_TRY(load_state(last, m, &st, err));
        SSM_TRY(ssm_batcher_seek(train, st.epoch, st.offset, err));
        ssm_info("resumed from %s at step %lld (epoch %lld, sample %lld)", last,
                 (long long)st.step, (long long)st.epoch + 1, (long long)st.offset);
    }
    runlog rl;
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->run_dir);
    SSM_TRY(runlog_open(&rl, path, err));

    ssm_code rc = SSM_OK;
    double t0 = progress_now();
    int64_t samples = 0;
    int done = st.step >= total;
    while (!done && st.epoch < cfg->train.epochs) {
        progress pr;
        progress_begin(&pr, stderr, st.epoch + 1, cfg->train.epochs, per_epoch, cfg->train.log_every);
        pr.step = st.offset / cfg->data.batch_size;
        for (;;) {
            const ssm_batch *b;
            if ((rc = ssm_batcher_next(train, &b, err)))
                goto out;
            if (!b)
                break;
            double loss;
            if ((rc = classify_model_loss_and_grad(m, b->x, b->y, b->B, &loss, err))) {
                ssm_error_prefix(err, "step %lld (epoch %lld): ", (long long)st.step + 1,
                                 (long long)st.epoch + 1);
                goto out;
            }
            int64_t n = (int64_t)m->params.total;
            double gnorm = cfg->optim.grad_clip > 0 ? grad_clip(m->params.grad, n, cfg->optim.grad_clip)
                                                    : grad_global_norm(m->params.grad, n);
            if (!isfinite(gnorm)) {
                rc = ssm_fail(err, SSM_EDATA,
                              "step %lld: gradient norm is %g: training diverged (lower optim.lr, "
                              "set optim.grad_clip)", (long long)st.step + 1, gnorm);
                goto out;
            }
            double lr = lr_schedule_at(&sched, st.step);
            optimizer_step(&m->params, &cfg->optim, lr, st.step + 1);
            st.step++;
            samples += b->B;
            progress_update(&pr, loss, lr, b->B);
            if (cfg->train.log_every > 0 && st.step % cfg->train.log_every == 0) {
                runlog_begin(&rl);
                runlog_str(&rl, "kind", "step");
                runlog_int(&rl, "step", st.step);
                runlog_int(&rl, "epoch", st.epoch);
                runlog_num(&rl, "loss", loss);
                runlog_num(&rl, "lr", lr);
                runlog_num(&rl, "grad_norm", gnorm);
                runlog_num(&rl, "samples_per_s", samples / fmax(progress_now() - t0, 1e-9));
                runlog_end(&rl);
            }
            ssm_batcher_tell(train, &st.epoch, &st.offset);
            int ckpt = cfg->train.checkpoint_every > 0 && st.step % cfg->train.checkpoint_every == 0;
            if (ckpt && (rc = save_checkpoint(last, m, o, &st, SSM_CKPT_OPTIMIZER, err)))
                goto out;
            if (st.step >= total) {
                done = 1;
                break;
            }
            if (o->kill_at_step > 0 && st.step == o->kill_at_step)
                raise(SIGKILL); // the resume test's crash: no cleanup, no final checkpoint
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
            if ((rc = validate(m, val, o, &st, &rl, &improved, err)))
                goto out;
            if (improved && (rc = save_checkpoint(best, m, o, &st, 0, err)))
                goto out;
        }
        if ((rc = save_checkpoint(last, m, o, &st, SSM_CKPT_OPTIMIZER, err)))
            goto out;
        if (val && cfg->train.patience > 0 && st.bad_evals >= cfg->train.patience) {
            ssm_info("early stop: no better validation accuracy in %lld evaluations",
                     (long long)st.bad_evals);
            s->stopped_early = 1;
            break;
        }
    }
    s->train_seconds = progress_now() - t0;
    s->samples_per_second = samples / fmax(s->train_seconds, 1e-9);
    if (!val) // without validation the final weights are the ones to test
        rc = save_checkpoint(best, m, o, &st, 0, err);
    if (!rc && test)
        rc = run_test(m, test, o, &st, &rl, s, err);
out:
    s->steps = st.step;
    s->epochs_done = st.epoch;
    s->best_val_accuracy = st.best;
    s->best_step = st.best_step;
    runlog_close(&rl);
    return rc;
}
