// defines: train_classify, evaluate_classify (see train_classify.h)
#include "tasks/train_classify.h"

#include <math.h>
#include <string.h>

#include "kernels/loss.h"
#include "tasks/task.h"

ssm_code evaluate_classify(classify_model *m, classify_tta *tta, ssm_batcher *bt,
                           class_metrics *cm, double *loss, ssm_error *err) {
    double sum = 0;
    int64_t n = 0;
    for (;;) {
        const ssm_batch *b;
        SSM_TRY(ssm_batcher_next(bt, &b, err));
        if (!b)
            break;
        // On a GPU the logits come down per batch; the loss and metrics are the host's.
        const real *logits;
        SSM_TRY(classify_predict_tta(m, tta, b->x, b->B, &logits, err));
        cross_entropy_forward(m->h_losses, m->h_probs, logits, b->y, b->B, m->V, 0);
        for (int64_t i = 0; i < b->B; i++)
            sum += m->h_losses[i];
        n += b->B;
        SSM_TRY(class_metrics_add(cm, logits, b->y, b->B, err));
    }
    *loss = n ? sum / (double)n : NAN;
    return SSM_OK;
}

ssm_code train_classify(classify_model *m, ssm_batcher *train, ssm_batcher *val, ssm_batcher *test,
                        const train_options *o, train_summary *s, ssm_error *err) {
    memset(s, 0, sizeof *s);
    s->best_val_accuracy = s->test_accuracy = s->test_top5 = s->test_macro_f1 = s->test_loss = NAN;
    ssm_task t;
    SSM_TRY(task_classify_wrap(&t, m, o->class_names, err));
    train_result r;
    ssm_code rc = train_run(&t, train, val, test, o, &r, err);
    task_release(&t);
    s->steps = r.steps;
    s->epochs_done = r.epochs_done;
    s->best_val_accuracy = r.best_val;
    s->best_step = r.best_step;
    s->train_seconds = r.train_seconds;
    s->samples_per_second = r.samples_per_second;
    s->stopped_early = r.stopped_early;
    if (r.test.n) {
        s->test_accuracy = task_metrics_get(&r.test, "accuracy");
        s->test_top5 = task_metrics_get(&r.test, "top5");
        s->test_macro_f1 = task_metrics_get(&r.test, "macro_f1");
        s->test_loss = task_metrics_get(&r.test, "loss");
    }
    return rc;
}
