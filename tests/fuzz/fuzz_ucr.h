// defines: fuzz_ucr (the body of the UCR/UEA .ts and .tsv fuzz targets)
// The input is the train file; after a line "%%" (tests/fuzz/fuzz_util.h) the test file,
// read as a pair when present. Padding and resampling alternate with the input's size.
// The two targets differ only in the file names, whose extension picks the reader.
#pragma once
#include <stdint.h>

#include "datasets/ucr.h"
#include "tests/fuzz/fuzz_util.h"

static int fuzz_ucr(const uint8_t *data, size_t size, const char *train_name,
                    const char *test_name) {
    fuzz_quiet();
    const uint8_t *a, *b;
    size_t na, nb;
    fuzz_split(data, size, &a, &na, &b, &nb);
    const char *train = fuzz_write(train_name, a, na);
    ucr_opts o = {.unequal = size % 2 ? UCR_RESAMPLE : UCR_PAD, .pad_to = 0};
    ucr_set s, t;
    ssm_error err = {0};
    if (ucr_read(&s, train, &o, &err) == SSM_OK) {
        if (s.n > 0) {
            int64_t idx[2] = {0, s.n - 1};
            real *x = malloc((size_t)(2 * s.len * s.dims) * sizeof *x);
            if (x)
                ucr_batch(x, NULL, NULL, &s, idx, 2, &err);
            free(x);
        }
        ucr_free(&s);
    }
    if (nb) {
        const char *test = fuzz_write(test_name, b, nb);
        if (ucr_read_pair(&s, &t, train, test, &o, &err) == SSM_OK) {
            ucr_free(&s);
            ucr_free(&t);
        }
    }
    return 0;
}
