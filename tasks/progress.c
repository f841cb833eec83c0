// defines: progress_begin, progress_update, progress_end, progress_now
#include "tasks/progress.h"

#include <time.h>
#include <unistd.h>

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_begin(progress *p, FILE *out, int64_t epoch, int64_t epochs, int64_t steps,
                    int64_t every, int mode) {
    p->out = out;
    p->tty = mode == PROGRESS_BAR || (mode == PROGRESS_AUTO && isatty(fileno(out)));
    p->off = mode == PROGRESS_OFF;
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps;
    p->step = 0;
    p->every = every > 0 ? every : 50;
    p->t_start = progress_now();
    p->samples = 0;
    p->loss_ema = -1;
}

static void format_eta(char *buf, size_t n, double seconds) {
    if (seconds < 0 || seconds > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    int s = (int)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, n, "%02d:%02d", s / 60, s % 60);
}

void progress_update(progress *p, double loss, double lr, int64_t batch_samples) {
    p->step++;
    p->samples += batch_samples;
    // A smoothed loss reads better than the noisy per-batch value.
    p->loss_ema = p->loss_ema < 0 ? loss : 0.95 * p->loss_ema + 0.05 * loss;
    double el = progress_now() - p->t_start;
    double rate = el > 0 ? (double)p->samples / el : 0;
    double eta = p->step > 0 ? el / (double)p->step * (double)(p->steps - p->step) : -1;
    char etas[32];
    format_eta(etas, sizeof etas, eta);
    if (p->off)
        return;
    if (p->tty) {
        int width = 24, filled = p->steps > 0 ? (int)(width * p->step / p->steps) : 0;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = 0;
        fprintf(p->out, "\repoch %lld/%lld [%s] %lld/%lld loss %.4f lr %.2e %.0f samples/s ETA %s  ",
                (long long)p->epoch, (long long)p->epochs, bar, (long long)p->step,
                (long long)p->steps, p->loss_ema, lr, rate, etas);
        fflush(p->out);
    } else if (p->step % p->every == 0 || p->step == p->steps) {
        fprintf(p->out, "epoch %lld/%lld step %lld/%lld loss %.4f lr %.2e %.0f samples/s ETA %s\n",
                (long long)p->epoch, (long long)p->epochs, (long long)p->step, (long long)p->steps,
                p->loss_ema, lr, rate, etas);
        fflush(p->out);
    }
}

void progress_end(progress *p) {
    if (p->tty && !p->off)
        fputc('\n', p->out);
    fflush(p->out);
}
