// defines: progress, progress_begin, progress_update, progress_end
// Training progress on stderr: a redrawn bar on a terminal (epoch, step,
// loss, learning rate, samples/s, ETA), plain log lines every `every` steps
// otherwise (CI logs, files).
#pragma once
#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;                 // redraw a bar
    int off;                 // print nothing
    int64_t epoch, epochs;
    int64_t steps, step;     // steps in this epoch, current step (1-based after update)
    int64_t every;           // plain-line interval when not a TTY
    double t_start;          // seconds, epoch start
    int64_t samples;         // samples seen this epoch
    double loss_ema;
} progress;

double progress_now(void); // monotonic seconds

// mode: PROGRESS_AUTO (a bar on a terminal, plain lines otherwise), _BAR, _PLAIN, _OFF
// (the values of the config's run.progress).
enum { PROGRESS_AUTO = 0, PROGRESS_BAR, PROGRESS_PLAIN, PROGRESS_OFF };
void progress_begin(progress *p, FILE *out, int64_t epoch, int64_t epochs, int64_t steps,
                    int64_t every, int mode);
void progress_update(progress *p, double loss, double lr, int64_t batch_samples);
void progress_end(progress *p);
