// defines: LLVMFuzzerTestOneInput (UCR/UEA .tsv: one file, then a train/test pair)
#include "tests/fuzz/fuzz_ucr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_ucr(data, size, "X_TRAIN.tsv", "X_TEST.tsv");
}
