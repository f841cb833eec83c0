// defines: LLVMFuzzerTestOneInput (a plain CSV of one series, predict's classification input)
// The first byte picks the channels the model takes (1..4); the rest is the file
// (datasets/series_plain.h).
#include <stdint.h>
#include <stdlib.h>

#include "datasets/series_plain.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (size < 1)
        return 0;
    const int64_t dims = 1 + data[0] % 4;
    const char *path = fuzz_write("series.csv", data + 1, size - 1);
    real *x = NULL;
    int64_t len = 0;
    ssm_error err = {0};
    if (series_plain_read(&x, &len, path, dims, &err) == SSM_OK) {
        volatile real sum = 0; // every value is read: an undersized buffer shows
        for (int64_t i = 0; i < len * dims; i++)
            sum += x[i];
        free(x);
    }
    return 0;
}
