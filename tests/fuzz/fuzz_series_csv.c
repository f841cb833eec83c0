// defines: LLVMFuzzerTestOneInput (forecasting CSV in the ETT layout)
#include <stdint.h>

#include "datasets/series_csv.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("ETTh1.csv", data, size);
    series_table t;
    ssm_error err = {0};
    if (series_csv_read(&t, path, &err) == SSM_OK) {
        series_table_find(&t, "OT");
        series_table_free(&t);
    }
    return 0;
}
