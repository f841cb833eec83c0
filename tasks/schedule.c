// defines: lr_schedule_at
#include "tasks/schedule.h"

#include <math.h>

double lr_schedule_at(const lr_schedule *s, int64_t step) {
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->lr * (double)(step + 1) / (double)s->warmup_steps;
    if ((!s->cosine && !s->linear) || s->total_steps <= s->warmup_steps)
        return s->lr;
    double t = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    if (t > 1)
        t = 1;
    if (s->cosine)
        return s->min_lr + 0.5 * (s->lr - s->min_lr) * (1 + cos(M_PI * t));
    return s->lr + (s->min_lr - s->lr) * t;
}
