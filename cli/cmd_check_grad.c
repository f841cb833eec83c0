// defines: cmd_check_grad (ssmkit check-grad CONFIG [--set k=v]... [--tolerance T])
// Builds the model a config describes at batch 2 on real samples and checks
// every parameter tensor's gradient against central finite differences.
// Finite differences need double precision to be meaningful, so the float
// binary re-executes its double-precision twin `ssmkit-f64` (built beside it
// from the same sources with real = double).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"

#if !REAL_IS_DOUBLE
int cmd_check_grad(int argc, char **argv) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
    if (n <= 0) {
        fprintf(stderr, "ssmkit check-grad: cannot locate the ssmkit binary\n");
        return 1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    snprintf(slash + 1, sizeof self - (size_t)(slash + 1 - self), "ssmkit-f64");
    char **args = calloc((size_t)argc + 3, sizeof *args);
    args[0] = self;
    args[1] = "check-grad";
    for (int i = 0; i < argc; i++)
        args[i + 2] = argv[i];
    execv(self, args);
    fprintf(stderr, "ssmkit check-grad: cannot run %s (the double-precision build; `make` builds it)\n",
            self);
    free(args);
    return 1;
}
#else

static const char *USAGE = "ssmkit check-grad CONFIG [--set k=v]... [--tolerance T]";

typedef struct {
    ssm_task *t;
    const ssm_batch *b;
} fd_ctx;

static double loss_at(fd_ctx *c) {
    ssm_error err;
    double loss = NAN;
    if (task_loss_and_grad(c->t, c->b, &loss, &err))
        return NAN;
    return loss;
}

int cmd_check_grad(int argc, char **argv) {
    cli_args a;
    int rc = cli_parse(&a, argc, argv, CLI_SET | CLI_TOL, USAGE);
    if (rc)
        return rc;
    if (a.help) {
        printf("%s\n\nChecks the gradient of every parameter tensor of the model CONFIG describes\n"
               "(batch 2, real samples, double precision) against central finite differences\n"
               "and prints the worst relative error per tensor. Exits 1 when any exceeds the\n"
               "tolerance (default 1e-3). The tool to run after writing an adapter.\n", USAGE);
        return 0;
    }
    ssm_error err = {0};
    ssm_config cfg;
    if (cli_load_config(&cfg, &a, &err))
        return cli_fail("check-grad", &err);
    cli_apply_threads(&cfg);
    // Finite differences in double precision: a CPU computation, whatever run.device says.
    snprintf(cfg.run.device, sizeof cfg.run.device, "cpu");
    const int64_t B = 2;
    cfg.data.batch_size = B;
    cfg.data.num_workers = 0;
    cfg.data.shuffle = false;
    cfg.data.augment.random_crop_padding = 0;
    cfg.data.augment.hflip = false;
    cfg.data.augment.random_erasing = 0;
    cli_data data;
    if (cli_data_open(&data, &cfg, 0, &err))
        return cli_fail("check-grad", &err);
    ssm_task *task = NULL;
    const ssm_batch *b = NULL;
    ssm_code code = task_create(&task, &cfg, &data.info, B, &err);
    if (!code) code = ssm_batcher_next(data.train, &b, &err);
    if (!code && !b) code = ssm_fail(&err, SSM_EDATA, "the training split is empty");
    double base = NAN;
    if (!code) code = task_loss_and_grad(task, b, &base, &err);
    if (code) {
        task_free(task);
        cli_data_close(&data);
        return cli_fail("check-grad", &err);
    }
    ssm_params *params = task->params;
    // The analytic gradient, kept apart: every finite-difference evaluation
    // recomputes (and overwrites) p->grad.
    real *g = malloc(params->total * sizeof(real));
    memcpy(g, params->grad, params->total * sizeof(real));
    fd_ctx ctx = {task, b};
    // A central difference of a loss computed in double carries a rounding
    // error of ~1e-14 * |loss| / h (the loss sums many terms): with h = 1e-4
    // ~1e-10 * |loss|. Gradients far below that (deep x_proj, dt_proj, A_log
    // entries at init are ~1e-7) cannot be compared relatively, so they are
    // compared absolutely: |fd - g| / max(|fd| + |g|, floor) with floor =
    // 1e-5 * max(1, |loss|), i.e. below the floor they must agree to
    // tolerance * floor (1e-9 at the defaults), still far below any real
    // error (a missing term is off by about the gradient itself).
    const double h = 1e-4, floor_abs = 1e-5 * fmax(1.0, fabs(base));
    const int per_tensor = 6;
    double worst_all = 0;
    printf("%-48s %-16s %12s %12s\n", "tensor", "shape", "worst rel err", "max |grad|");
    for (size_t t = 0; t < params->count; t++) {
        const ssm_param_info *it = &params->items[t];
        real *p = params->data + it->offset;
        const real *gt = g + it->offset;
        size_t arg = 0;
        for (size_t i = 1; i < it->numel; i++)
            if (fabs(gt[i]) > fabs(gt[arg]))
                arg = i;
        // Also floored at 1% of the tensor's largest gradient: elements far
        // below it carry the loss's rounding, not the gradient's accuracy.
        double floor_t = fmax(1e-2 * fabs(gt[arg]), floor_abs);
        double worst = 0;
        for (int k = 0; k <= per_tensor; k++) {
            size_t i = k == per_tensor ? arg : (size_t)((double)k / per_tensor * (double)it->numel);
            if (i >= it->numel)
                continue;
            real saved = p[i];
            p[i] = saved + h;
            double lp = loss_at(&ctx);
            p[i] = saved - h;
            double lm = loss_at(&ctx);
            p[i] = saved;
            double fd = (lp - lm) / (2 * h);
            double e = fabs(fd - gt[i]) / fmax(fabs(fd) + fabs(gt[i]), floor_t);
            if (!(e <= worst))
                worst = e;
        }
        char shape[64];
        ssm_shape_str(shape, sizeof shape, it->ndim, it->shape);
        printf("%-48s %-16s %12.3e %12.3e%s\n", it->name, shape, worst, fabs(gt[arg]),
               worst > a.tolerance ? "  FAIL" : "");
        if (!(worst <= worst_all))
            worst_all = worst;
    }
    printf("worst relative error %.3e over %zu tensors (tolerance %.1e, absolute floor %.1e): %s\n",
           worst_all, params->count, a.tolerance, floor_abs, worst_all <= a.tolerance ? "ok" : "FAILED");
    free(g);
    task_free(task);
    cli_data_close(&data);
    return worst_all <= a.tolerance ? 0 : 1;
}
#endif
