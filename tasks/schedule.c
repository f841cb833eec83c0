// defines: lr_schedule_at, lr_schedule_resolve
#include "tasks/schedule.h"

#include <math.h>

double lr_schedule_at(const lr_schedule *s, int64_t step) {
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->lr * (double)(step + 1) / (double)s->warmup_steps;
    if (s->step && s->per_epoch > 0 && s->step_epochs > 0) {
        const int64_t decays = step / s->per_epoch / s->step_epochs;
        const double v = s->lr * pow(s->gamma, (double)decays);
        return v > s->min_lr ? v : s->min_lr;
    }
    if ((!s->cosine && !s->linear) || s->total_steps <= s->warmup_steps)
        return s->lr;
    double t = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    if (t > 1)
        t = 1;
    if (s->cosine)
        return s->min_lr + 0.5 * (s->lr - s->min_lr) * (1 + cos(M_PI * t));
    return s->lr + (s->min_lr - s->lr) * t;
}

int64_t lr_schedule_resolve(ssm_config *c, int64_t per_epoch) {
    if (per_epoch < 1)
        return 0;
    if (c->train.min_steps > 0 && c->train.epochs * per_epoch < c->train.min_steps)
        c->train.epochs = (c->train.min_steps + per_epoch - 1) / per_epoch;
    int64_t total = c->train.epochs * per_epoch;
    if (c->train.max_steps > 0 && c->train.max_steps < total)
        total = c->train.max_steps;
    if (c->optim.warmup_fraction > 0) {
        int64_t w = (int64_t)llround(c->optim.warmup_fraction * (double)total);
        c->optim.warmup_steps = w > 1 ? w : 1;
        c->optim.warmup_fraction = 0; // resolved: the loop reads warmup_steps
    }
    return total;
}
