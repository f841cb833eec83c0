// defines: LLVMFuzzerTestOneInput (CLAM's per-slide HDF5 feature files, through libhdf5)
// The input is h5_files/slide_0000.h5 of a one-slide CLAM set; it is opened (dataset
// shapes and types checked) and its rows read. libhdf5 itself is not instrumented: this
// finds what our checks let through, and whatever libhdf5 does with hostile files.
#include <stdint.h>

#include "datasets/mil_clam.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    static const char csv_text[] = "case_id,slide_id,label\nc0,slide_0000,tumor\n";
    const char *csv = fuzz_write("dataset.csv", csv_text, sizeof csv_text - 1);
    fuzz_write("h5_files/slide_0000.h5", data, size);
    mil_clam_opts o = {.csv = csv, .label_map = "normal:0,tumor:1", .coords = size % 2};
    mil_bags s = {0};
    ssm_error err = {0};
    if (mil_clam_open(&s, &o, &err) == SSM_OK) {
        int64_t k = s.len[0] < 16 ? s.len[0] : 16;
        real *x = malloc((size_t)(k * s.token) * sizeof *x);
        int32_t *y = malloc((size_t)k * sizeof *y);
        if (x && y)
            s.read(&s, 0, NULL, k, x, y, &err);
        free(x);
        free(y);
        mil_bags_free(&s);
    }
    return 0;
}
