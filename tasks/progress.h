// defines: progress, progress_begin, progress_update, progress_end
// Training progress on stderr: a redrawn bar on a terminal (epoch, step,
// loss, learning rate, samples/s, ETA), plain log lines every `every` steps
// otherwise (CI logs, files).
#pragma once
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;
    int64_t epoch, epochs;
    int64_t steps, step;     // steps in this epoch, current step (1-based after update)
    int64_t every;           // plain-line interval when not a TTY
    double t_start;          // seconds, epoch start
    int64_t samples;         // samples seen this epoch
    double loss_ema;
} progress;

double progress_now(void); // monotonic seconds

void progress_begin(progress *p, FILE *out, int64_t epoch, int64_t epochs, int64_t steps,
                    int64_t every);
void progress_update(progress *p, double loss, double lr, int64_t batch_samples);
void progress_end(progress *p);
