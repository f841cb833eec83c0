// defines: cmd_info (ssmkit info [FILE.safetensors])
// With a checkpoint: its tensors and metadata. Without: what this binary and
// machine run (CPU model, the kernel variant chosen and the ones available,
// threads, OpenBLAS's kernel, the CUDA architectures built and the GPUs seen).
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/checkpoint.h"
#include "core/device_select.h"
#include "core/real.h"
#include "kernels/cpu_dispatch.h"

char *openblas_get_corename(void); // from OpenBLAS
char *openblas_get_config(void);

// The "model name" line of /proc/cpuinfo, or "unknown".
static void cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            const char *v = strchr(line, ':');
            if (v) {
                v += v[1] == ' ' ? 2 : 1;
                snprintf(buf, cap, "%.*s", (int)strcspn(v, "\n"), v);
            }
            break;
        }
    fclose(f);
}

static int print_machine(void) {
    char model[256], cpu[256], gpus[2048];
    cpu_model(model, sizeof model);
    ssm_cpu_describe(cpu, sizeof cpu);
    ssm_device_describe_gpus(gpus, sizeof gpus);
    printf("ssmkit 0.1.0 (%s, real = %s)\n", SSM_HAVE_CUDA ? "cpu, cuda" : "cpu",
           REAL_IS_DOUBLE ? "double" : "float");
    printf("cpu:      %s\n", model);
    printf("kernels:  %s\n", cpu);
    printf("          (SSMKIT_CPU=generic|avx2|avx512 forces one)\n");
    printf("threads:  %d OpenMP (run.threads: 0 = all this process may use)\n",
           omp_get_max_threads());
    printf("openblas: %s (%s)\n", openblas_get_corename(), openblas_get_config());
    printf("cuda:     %s\n", gpus);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *usage = "ssmkit info [FILE.safetensors]";
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("%s\n\nWith a checkpoint: its tensors (name, dtype, shape) and its metadata:\n"
               "step, epoch, best metric and the resolved config. Without: the CPU, the\n"
               "kernel variant that runs (and the ones this CPU supports), threads,\n"
               "OpenBLAS, and the GPUs this build can use.\n", usage);
        return 0;
    }
    if (argc == 0)
        return print_machine();
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    ssm_error err = {0};
    ssm_ckpt_info info;
    if (ssm_checkpoint_inspect(argv[0], &info, &err))
        return cli_fail("info", &err);
    ssm_ckpt_info_print(stdout, &info, 0);
    ssm_ckpt_info_free(&info);
    return 0;
}
