// defines: LLVMFuzzerTestOneInput (PLY meshes and point sets: ASCII, binary little and
//          big endian; then surface sampling)
#include <stdint.h>

#include "datasets/pc_cloud.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_quiet();
    const char *path = fuzz_write("cloud.ply", data, size);
    pc_mesh m = {0};
    ssm_error err = {0};
    if (pc_read_ply(&m, path, &err) == SSM_OK) {
        pc_cloud c = {0};
        if (m.nf > 0 && pc_mesh_sample(&c, &m, 16, 7, path, &err) == SSM_OK)
            pc_cloud_free(&c);
        pc_mesh_free(&m);
    }
    pc_cloud c = {0}; // the same file as a cloud: its vertices
    if (pc_read_points(&c, path, &err) == SSM_OK)
        pc_cloud_free(&c);
    return 0;
}
