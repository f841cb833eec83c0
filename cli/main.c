// defines: main (the ssmkit command)
// Subcommands are added here as their rooms land; only what exists is listed.
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "ssmkit — Mamba (selective state-space) models for non-text data\n"
            "\n"
            "usage: ssmkit <command> [options]\n"
            "\n"
            "commands:\n"
            "  version     print the version and build options\n"
            "  help        this text\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
#ifdef SSM_CUDA
        printf("ssmkit 0.1.0 (cpu, cuda)\n");
#else
        printf("ssmkit 0.1.0 (cpu)\n");
#endif
        return 0;
    }
    fprintf(stderr, "ssmkit: unknown command '%s' (see ssmkit --help)\n", argv[1]);
    return 2;
}
