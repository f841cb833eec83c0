// defines: LLVMFuzzerTestOneInput (point text files: ModelNet's .txt, .xyz, ShapeNetPart)
// The same bytes as ModelNet's `x,y,z,nx,ny,nz` .txt and as a blank-separated .xyz
// (pc_read_points picks the reader by the extension).
#include <stdint.h>

#include "datasets/pc_cloud.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *paths[2] = {fuzz_write("airplane_0001.txt", data, size),
                            fuzz_write("cloud.xyz", data, size)};
    for (int i = 0; i < 2; i++) {
        pc_cloud c = {0};
        ssm_error err = {0};
        if (pc_read_points(&c, paths[i], &err) == SSM_OK)
            pc_cloud_free(&c);
    }
    return 0;
}
