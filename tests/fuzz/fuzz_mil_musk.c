// defines: LLVMFuzzerTestOneInput (the Musk / Elephant / Fox / Tiger MIL CSV)
// Read, then every bag's rows read back through the bag reader.
#include <stdint.h>

#include "datasets/mil_musk.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("musk1.csv", data, size);
    mil_bags s = {0};
    ssm_error err = {0};
    if (mil_musk_read(&s, path, &err) == SSM_OK) {
        for (int64_t i = 0; i < s.n && i < 8; i++) {
            int64_t k = s.len[i] < 64 ? s.len[i] : 64;
            real *x = malloc((size_t)(k * s.token) * sizeof *x);
            int32_t *y = malloc((size_t)k * sizeof *y);
            if (x && y)
                s.read(&s, i, NULL, k, x, y, &err);
            free(x);
            free(y);
        }
        mil_bags_free(&s);
    }
    return 0;
}
