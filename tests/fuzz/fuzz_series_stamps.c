// defines: LLVMFuzzerTestOneInput (the time column of a forecast's history CSV)
// The input is a forecasting CSV (datasets/series_csv.h), as `ssmkit predict` reads a
// history; the first column of its last rows (up to 32) is read as time
// (datasets/series_stamps.h) and the next stamps, a far one included, are formatted.
#include <stdint.h>

#include "datasets/series_csv.h"
#include "datasets/series_stamps.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("history.csv", data, size);
    series_table t;
    ssm_error err = {0};
    if (series_csv_read(&t, path, &err) != SSM_OK)
        return 0;
    const int64_t n = t.rows < 32 ? t.rows : 32;
    series_stamps s;
    int64_t bad;
    if (series_stamps_infer(&s, (const char *const *)t.dates + (t.rows - n), n, &bad, &err) ==
            SSM_OK &&
        s.kind != SERIES_STAMP_NONE) {
        char out[SERIES_STAMP_MAX];
        const int64_t ks[] = {1, 2, 3, 96, 720, (int64_t)1 << 40, INT64_MAX};
        for (size_t i = 0; i < sizeof ks / sizeof *ks; i++)
            series_stamps_format(&s, ks[i], out, sizeof out);
    }
    series_table_free(&t);
    return 0;
}
