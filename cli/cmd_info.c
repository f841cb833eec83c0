// defines: cmd_info (ssmkit info FILE.safetensors)
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/checkpoint.h"

int cmd_info(int argc, char **argv) {
    const char *usage = "ssmkit info FILE.safetensors";
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("%s\n\nLists a checkpoint's tensors (name, dtype, shape) and its metadata: step,\n"
               "epoch, best metric and the resolved config.\n", usage);
        return 0;
    }
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
