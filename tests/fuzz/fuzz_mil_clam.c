// defines: LLVMFuzzerTestOneInput (CLAM's dataset CSV and splits CSV)
// The input is the dataset CSV, then after a line "%%" (tests/fuzz/fuzz_util.h) a
// splits_<k>.csv. The features are a small synthetic set (mil_synth.h, written once:
// slides slide_0000..slide_0003, normal/tumor), so a CSV naming those slides opens;
// the splits are read against the set the CSV opened, else against the synthetic one.
#include <stdint.h>

#include "datasets/mil_clam.h"
#include "datasets/mil_folds.h"
#include "datasets/mil_synth.h"
#include "tests/fuzz/fuzz_util.h"

static char synth_dir[256];
static mil_bags synth;

static void setup(void) {
    ssm_error err = {0};
    snprintf(synth_dir, sizeof synth_dir, "%s", fuzz_path("synth"));
    mil_synth_opts o = {.n_bags = 4, .min_len = 2, .max_len = 5, .F = 3, .min_witness = 1,
                        .max_witness = 1, .shift = 2, .positive_fraction = 0.5, .seed = 1};
    char csv[300];
    snprintf(csv, sizeof csv, "%s/dataset.csv", synth_dir);
    mil_clam_opts co = {.csv = csv};
    if (mil_synth_write(synth_dir, &o, &err) || mil_clam_open(&synth, &co, &err)) {
        fprintf(stderr, "fuzz_mil_clam: %s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    if (!synth_dir[0])
        setup();
    const uint8_t *a, *b;
    size_t na, nb;
    fuzz_split(data, size, &a, &na, &b, &nb);
    mil_clam_opts o = {.csv = fuzz_write("dataset.csv", a, na), .features_dir = synth_dir,
                       .label_map = size % 3 == 0 ? "normal:0,tumor:1" : NULL,
                       .coords = size % 2};
    mil_bags s = {0};
    ssm_error err = {0};
    int opened = mil_clam_open(&s, &o, &err) == SSM_OK;
    if (opened && s.n > 0) {
        real x[5 * 5];
        int32_t y[5];
        int64_t rows[2] = {0, s.len[0] - 1};
        s.read(&s, 0, s.len[0] > 1 ? rows : NULL, s.len[0] > 1 ? 2 : 1, x, y, &err);
    }
    if (nb) {
        mil_split sp = {0};
        const char *splits = fuzz_write("splits_0.csv", b, nb);
        if (mil_split_read_clam(&sp, opened ? &s : &synth, splits, &err) == SSM_OK)
            mil_split_free(&sp);
    }
    if (opened)
        mil_bags_free(&s);
    return 0;
}
