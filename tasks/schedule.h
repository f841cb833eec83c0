// defines: lr_schedule, lr_schedule_at, lr_schedule_resolve
// Learning rate: linear warmup from 0 to `lr` over `warmup_steps`, then cosine or linear
// decay to `min_lr` at `total_steps` (or constant after warmup), or step decay by epochs:
// lr * gamma^floor(epoch / step_epochs), never below min_lr, with epoch = step / per_epoch
// (optim.schedule: step; gamma 0.5 every epoch is Time-Series-Library's `lradj type1`,
// the schedule of iTransformer's and S-Mamba's scripts, which set the rate of epoch e to
// lr * 0.5^e after each epoch).
#pragma once
#include <stdint.h>

#include "core/config.h"

typedef struct {
    double lr, min_lr;
    int64_t warmup_steps, total_steps;
    int cosine; // 0 = constant after warmup (or linear)
    int linear; // 1 = a straight line from lr to min_lr (optim.schedule: linear)
    int step;   // 1 = step decay by epochs (optim.schedule: step)
    int64_t per_epoch, step_epochs; // step: optimizer steps per epoch, epochs per decay
    double gamma;                   // step: the factor of each decay
} lr_schedule;

// step is 0-based: the rate used for the (step+1)-th optimizer update.
double lr_schedule_at(const lr_schedule *s, int64_t step);

// ---- step budgets scaled to the set (train.min_steps, optim.warmup_fraction) ----------
// A recipe meant for sets of 20 to 9,000 series (the UCR/UEA archive) cannot name its
// schedule in epochs (2 steps an epoch on a 30-series set) or in fixed steps (a 20-step
// warmup is a whole run there). Given the training batches of one epoch, resolves the
// config the loop runs on, in place (the config written to the run folder keeps what the
// user wrote; the same config and set always resolve alike, so a resume agrees):
//   train.min_steps        train.epochs rises to ceil(min_steps / per_epoch) when the
//                          epochs give fewer steps (train.max_steps still caps the run)
//   optim.warmup_fraction  becomes optim.warmup_steps = max(1, round(fraction * total)),
//                          total = min(epochs * per_epoch, max_steps when set)
// Returns the run's total steps. per_epoch < 1 leaves c as it is and returns 0.
int64_t lr_schedule_resolve(ssm_config *c, int64_t per_epoch);
