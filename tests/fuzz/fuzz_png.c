// defines: LLVMFuzzerTestOneInput (PNG images, as `ssmkit predict` reads them)
// Read as gray 8x8 and as RGB 5x7 (a resize on almost every input, both colour paths).
#include <stdint.h>

#include "datasets/augment.h"
#include "datasets/png.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("input.png", data, size);
    real out[3 * 8 * 8];
    ssm_error err = {0};
    int64_t sh = 0, sw = 0;
    ssm_png_read(path, out, 1, 8, 8, SSM_RESIZE_BILINEAR, &sh, &sw, &err);
    ssm_png_read(path, out, 3, 5, 7, SSM_RESIZE_NEAREST, NULL, NULL, &err);
    return 0;
}
