// defines: the suite runners (see suite.h)
#include "tests/util/suite.h"

#include <stdio.h>

#include "core/real.h"
#include "tests/util/files.h"
#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define TU_HAVE_CUDA 1
#include "kernels/cuda/common.h"
#else
#define TU_HAVE_CUDA 0
#endif

static int run(Suite *s, int nofork) {
    SRunner *sr = srunner_create(s);
    if (nofork)
        srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

int tu_run_suite(Suite *s) { return run(s, 0); }
int tu_run_suite_nofork(Suite *s) { return run(s, 1); }

int tu_run_suite_in(Suite *s, int nofork, char *dir, size_t cap, const char *tag) {
    if (tu_mkdtemp(dir, cap, tag)) {
        fprintf(stderr, "%s: cannot make a temp folder\n", tag);
        return 1;
    }
    int failed = run(s, nofork);
    return tu_rmtree(dir) ? 1 : failed;
}

int tu_cuda_ready(const char *what) {
#if TU_HAVE_CUDA
    if (ssm_cuda_device_count() > 0)
        return 1;
    printf("%s skipped (no CUDA device: nvidia-smi shows none, or the driver is missing)\n", what);
#else
    printf("%s skipped (built without CUDA=1, or a sanitizer/double build, which links no CUDA "
           "code)\n", what);
#endif
    return 0;
}
