// defines: main (the ssmkit command)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/distributed.h"
#include "kernels/cpu_dispatch.h"

static void usage(FILE *f) {
    char adapters[512];
    ssm_adapter_list(adapters, sizeof adapters);
    fprintf(f,
            "ssmkit — Mamba (selective state-space) models for non-text data\n"
            "\n"
            "usage: ssmkit <command> [options]   (ssmkit <command> --help for details)\n"
            "\n"
            "commands:\n"
            "  train CONFIG [--set k=v]... [--resume RUN_DIR]   train and evaluate (on N ranks:\n"
            "                                                   mpirun -np N ssmkit train CONFIG)\n"
            "  eval CONFIG --ckpt FILE [--split val|test]       metrics of a checkpoint, one JSON line\n"
            "  predict CONFIG --ckpt FILE INPUT.png...          classify images\n"
            "  cv CONFIG [--folds K] [--repeats R] [--set k=v]...  cross-validation: one model per fold\n"
            "  synth-bags DIR [options]                         a synthetic MIL bag set (CLAM layout)\n"
            "  synth-scenes DIR [options]                       a synthetic multi-label sound set\n"
            "                                                   (AST/AuM JSON manifests)\n"
            "  check-grad CONFIG                                finite-difference check of every gradient\n"
            "  info [FILE.safetensors]                          a checkpoint's tensors and metadata;\n"
            "                                                   alone: CPU kernels, threads, GPUs\n"
            "  config-keys                                      every config key (Markdown)\n"
            "  version                                          version and build options\n"
            "\n"
            "environment: SSMKIT_CPU=generic|avx2|avx512 forces a CPU kernel variant\n"
            "\n"
            "adapters: %s\n",
            adapters);
}

// OpenMP's default wait policy spins idle threads during every OpenBLAS call
// (Debian's OpenBLAS has its own pthread pool): on 2 cores that made training
// 25% to 4x slower. libgomp reads the policy when it loads, before main, so
// set it and re-execute once. An explicit OMP_WAIT_POLICY is respected.
static void ensure_passive_wait(char **argv) {
    if (getenv("OMP_WAIT_POLICY"))
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the active policy, only slower
}

int main(int argc, char **argv) {
    ensure_passive_wait(argv);
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    ssm_error err = {0};
    if (ssm_cpu_select_env(&err)) { // a variant the CPU lacks would die of SIGILL later
        fprintf(stderr, "ssmkit: error: %s\n", err.msg);
        return 2;
    }
    int n = argc - 2;
    char **rest = argv + 2;
    // Only train shares one job among ranks (cli/cmd_train.c starts MPI); any other command
    // started as several ranks would repeat the same work N times.
    int rank, size, local_rank, local_size;
    if (strcmp(cmd, "train") &&
        ssm_dist_launched(&rank, &size, &local_rank, &local_size) && size > 1) {
        fprintf(stderr, "ssmkit: error: rank %d of %d: `ssmkit %s` runs as one process; only "
                "`ssmkit train` runs on several ranks (mpirun -np N ssmkit train CONFIG)\n",
                rank, size, cmd);
        return 2;
    }
    if (!strcmp(cmd, "train")) return cmd_train(n, rest);
    if (!strcmp(cmd, "eval")) return cmd_eval(n, rest);
    if (!strcmp(cmd, "predict")) return cmd_predict(n, rest);
    if (!strcmp(cmd, "check-grad")) return cmd_check_grad(n, rest);
    if (!strcmp(cmd, "cv")) return cmd_cv(n, rest);
    if (!strcmp(cmd, "synth-bags")) return cmd_synth_bags(n, rest);
    if (!strcmp(cmd, "synth-scenes")) return cmd_synth_scenes(n, rest);
    if (!strcmp(cmd, "info")) return cmd_info(n, rest);
    if (!strcmp(cmd, "config-keys")) {
        ssm_config_write_reference(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        const char *mpi = strcmp(ssm_dist_backend(), "mpi") ? "" : ", mpi";
#ifdef SSM_CUDA
        printf("ssmkit 0.1.0 (cpu, cuda%s)%s\n", mpi, REAL_IS_DOUBLE ? " f64" : "");
#else
        printf("ssmkit 0.1.0 (cpu%s)%s\n", mpi, REAL_IS_DOUBLE ? " f64" : "");
#endif
        return 0;
    }
    fprintf(stderr, "ssmkit: unknown command '%s' (see ssmkit --help)\n", cmd);
    return 2;
}
