// defines: LLVMFuzzerTestOneInput (safetensors checkpoints: header, metadata, tensors)
// ssm_checkpoint_inspect (what `ssmkit info` prints), the typed metadata reads resume
// does, then ssm_checkpoint_load into a small table (weight [2, 3], bias [3]) without
// and with the optimizer moments. The seeds are checkpoints of that table.
#include <stdint.h>

#include "core/checkpoint.h"
#include "core/params.h"
#include "tests/fuzz/fuzz_util.h"

static ssm_params table;
static FILE *devnull;

static void setup(void) {
    ssm_error err = {0};
    int64_t w[2] = {2, 3}, b[1] = {3};
    ssm_params_init(&table);
    if (ssm_params_add(&table, "weight", 2, w, 0, NULL, &err) ||
        ssm_params_add(&table, "bias", 1, b, SSM_PARAM_NO_DECAY, NULL, &err) ||
        ssm_params_finalize(&table, &err)) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
        abort();
    }
    devnull = fopen("/dev/null", "w");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (!devnull)
        setup();
    const char *path = fuzz_write("last.safetensors", data, size);
    ssm_error err = {0};
    ssm_ckpt_info info;
    if (ssm_checkpoint_inspect(path, &info, &err) == SSM_OK) {
        ssm_ckpt_info_print(devnull, &info, 64);
        int64_t i;
        double d;
        uint8_t hex[8];
        ssm_metadata_get_int(&info.meta, SSM_META_STEP, &i, &err);
        ssm_metadata_get_int(&info.meta, SSM_META_EPOCH, &i, &err);
        ssm_metadata_get_double(&info.meta, SSM_META_BEST_METRIC, &d, &err);
        ssm_metadata_get_hex(&info.meta, "data_hash", hex, sizeof hex, &err);
        ssm_ckpt_info_free(&info);
    }
    for (unsigned flags = 0; flags <= SSM_CKPT_OPTIMIZER; flags += SSM_CKPT_OPTIMIZER) {
        ssm_metadata meta;
        ssm_metadata_init(&meta);
        ssm_checkpoint_load(path, &table, flags, &meta, &err);
        ssm_metadata_free(&meta);
    }
    return 0;
}
