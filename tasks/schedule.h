// defines: lr_schedule, lr_schedule_at
// Learning rate: linear warmup from 0 to `lr` over `warmup_steps`, then cosine or linear
// decay to `min_lr` at `total_steps` (or constant after warmup).
#pragma once
#include <stdint.h>

typedef struct {
    double lr, min_lr;
    int64_t warmup_steps, total_steps;
    int cosine; // 0 = constant after warmup (or linear)
    int linear; // 1 = a straight line from lr to min_lr (optim.schedule: linear)
} lr_schedule;

// step is 0-based: the rate used for the (step+1)-th optimizer update.
double lr_schedule_at(const lr_schedule *s, int64_t step);
