// defines: LLVMFuzzerTestOneInput (IDX images and labels)
// The same bytes read as an images file and as a labels file (each refuses the other's
// magic early; both paths run). zlib's gzread takes plain and gzip input alike.
#include <stdint.h>

#include "datasets/idx.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("data-idx3-ubyte", data, size);
    ssm_error err = {0};
    uint8_t *pixels = NULL;
    int64_t n = 0, h = 0, w = 0;
    if (ssm_idx_read_images(path, &pixels, &n, &h, &w, &err) == SSM_OK)
        free(pixels);
    int32_t *labels = NULL;
    if (ssm_idx_read_labels(path, 10, &labels, &n, &err) == SSM_OK)
        free(labels);
    return 0;
}
