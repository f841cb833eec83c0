// defines: LLVMFuzzerTestOneInput (the config: YAML file + one --set)
// The input's first line is one `--set key=value` assignment, the rest the YAML file;
// both go through ssm_config_resolve as `ssmkit train FILE --set ...` sends them.
#include <stdint.h>

#include "core/config.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    size_t nl = 0;
    while (nl < size && data[nl] != '\n')
        nl++;
    char set[512];
    size_t n = nl < sizeof set - 1 ? nl : sizeof set - 1;
    memcpy(set, data, n);
    set[n] = 0;
    size_t rest = nl < size ? nl + 1 : size;
    const char *path = fuzz_write("config.yaml", data + rest, size - rest);
    const char *sets[1] = {set};
    ssm_config c;
    ssm_error err = {0};
    ssm_config_defaults(&c);
    if (ssm_config_resolve(&c, path, sets, n ? 1 : 0, &err) == SSM_OK) {
        char *yaml = ssm_config_to_yaml_string(&c, &err); // the resolved config written back
        free(yaml);
    }
    ssm_config_free(&c);
    return 0;
}
