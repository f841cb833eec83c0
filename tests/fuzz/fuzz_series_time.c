// defines: LLVMFuzzerTestOneInput (a forecasting CSV's date column as calendar features)
// The CSV reader, then the dataset with data.time_features (every date parsed by
// datasets/series_time.c) at the smallest windows, so that short files reach the dates.
#include <stdint.h>

#include "datasets/series_csv.h"
#include "datasets/series_split.h"
#include "datasets/series_time.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("series.csv", data, size);
    series_table t;
    ssm_error err = {0};
    if (series_csv_read(&t, path, &err) != SSM_OK)
        return 0;
    series_opts o = {.layout = SERIES_CUSTOM, .mode = SERIES_M, .target = t.names[t.vars - 1],
                     .lookback = 1, .horizon = 1, .scale = 1, .time_features = 1};
    series_dataset d;
    if (series_dataset_build(&d, &t, &o, &err) == SSM_OK)
        series_dataset_free(&d);
    for (int64_t r = 0; r < t.rows; r++) { // every date on its own, whatever the splits said
        series_date dt;
        double f[SERIES_TIME_FEATURES];
        if (series_date_parse(&dt, t.dates[r], &err) == SSM_OK)
            series_time_features(f, &dt);
    }
    series_table_free(&t);
    return 0;
}
