// defines: ssm_dist_launched, ssm_dist_hash, ssm_dist_check_same, ssm_dist_grad_average,
//          ssm_dist_cores (both builds); without MPI also ssm_dist_init, ssm_dist_finalize,
//          ssm_dist_abort, ssm_dist_backend, ssm_dist_allreduce, ssm_dist_iallreduce,
//          ssm_dist_wait, ssm_dist_bcast, ssm_dist_barrier, ssm_dist_allgatherv (one
//          process: core/distributed_mpi.c has the MPI ones)
#include "core/distributed.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// A positive integer from the environment, or -1.
static int env_int(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 0 || v > 1 << 24 ? -1 : (int)v;
}

int ssm_dist_launched(int *rank, int *size, int *local_rank, int *local_size) {
    // (size, rank, local rank, local size) as each launcher spells them
    static const char *const names[][4] = {
        {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
         "OMPI_COMM_WORLD_LOCAL_SIZE"},
        {"PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
        {"MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_LOCAL_RANK",
         "MV2_COMM_WORLD_LOCAL_SIZE"},
    };
    *rank = 0, *size = 1, *local_rank = 0, *local_size = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int n = env_int(names[i][0]), r = env_int(names[i][1]);
        if (n < 1 || r < 0 || r >= n)
            continue;
        int lr = env_int(names[i][2]), ls = env_int(names[i][3]);
        *size = n, *rank = r;
        *local_size = ls >= 1 ? ls : 1;
        *local_rank = lr >= 0 && lr < *local_size ? lr : 0;
        return 1;
    }
    // PMIx launchers (OpenMPI 5's prterun, srun --mpi=pmix) may name only the rank: the size
    // is then at least rank + 1 (MPI_Init tells the rest)
    int r = env_int("PMIX_RANK");
    if (r >= 0) {
        *rank = r, *size = r + 1;
        return 1;
    }
    return 0;
}

uint64_t ssm_dist_hash(const void *p, size_t bytes) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

ssm_code ssm_dist_check_same(const ssm_dist *d, uint64_t hash, const char *what, ssm_error *err) {
    if (!d || !d->active || d->size < 2)
        return SSM_OK;
    // the sum of every rank's hash equals size * mine on every rank only if all agree
    // (a mismatch that cancels needs a 2^-64 coincidence); the high and low halves are
    // summed apart so that no sum overflows an int64
    int64_t v[3] = {(int64_t)(hash >> 32), (int64_t)(hash & 0xffffffffu), 1};
    SSM_TRY(ssm_dist_allreduce(d, v, 3, SSM_DIST_INT64, err));
    if (v[0] != (int64_t)(hash >> 32) * v[2] || v[1] != (int64_t)(hash & 0xffffffffu) * v[2])
        return ssm_fail(err, SSM_EDATA,
                        "%s: the ranks hold different values (rank %d's fingerprint %016" PRIx64
                        " is not every rank's): the ranks no longer train one model",
                        what, d->rank, hash);
    return SSM_OK;
}

ssm_code ssm_dist_grad_average(const ssm_dist *d, real *grad, size_t n, double share,
                               int on_device, ssm_error *err) {
    if (!d || !d->active)
        return SSM_OK;
    if (!(share >= 0 && share <= 1))
        return ssm_fail(err, SSM_EINVAL, "gradient share %g of rank %d: expected 0..1", share,
                        d->rank);
    if (on_device) {
        if (!d->dev && d->size == 1)
            return SSM_OK; // one GPU rank without NCCL: nothing to sum
        if (!d->dev)
            return ssm_fail(err, SSM_EDEVICE,
                            "rank %d: the gradients are on a GPU but no device reducer is "
                            "attached (a GPU build without NCCL trains on one GPU only: build "
                            "with CUDA=1 MPI=1 where nccl.h is found)", d->rank);
        return d->dev->grad_average(d->dev_ctx, grad, n, share, err);
    }
    if (share == 0) {
        memset(grad, 0, n * sizeof *grad);
    } else if (share != 1) {
        const real s = (real)share;
        for (size_t i = 0; i < n; i++)
            grad[i] *= s;
    }
    return ssm_dist_allreduce(d, grad, n, SSM_DIST_REAL, err);
}

int ssm_dist_cores(const ssm_dist *d) {
    int mine = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        mine = CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int local = d && d->local_size > 1 ? d->local_size : 1;
    int share = online > 0 ? (int)(online / local) : 1;
    int n = mine > 0 && mine < share ? mine : share;
    return n > 0 ? n : 1;
}

#ifndef SSM_MPI
// ---- one process: no MPI in this build --------------------------------------------------

ssm_code ssm_dist_init(ssm_dist *d, int *argc, char ***argv, ssm_error *err) {
    (void)argc, (void)argv;
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    int rank, size, lr, ls;
    if (ssm_dist_launched(&rank, &size, &lr, &ls) && size > 1)
        return ssm_fail(err, SSM_ECONFIG,
                        "rank %d of %d: this ssmkit was built without MPI, so its %d copies "
                        "would train %d independent models; rebuild with MPI (apt-get install "
                        "libopenmpi-dev, then make MPI=1) or run one process without mpirun",
                        rank, size, size, size);
    return SSM_OK;
}

void ssm_dist_finalize(ssm_dist *d) {
    if (d->dev && d->dev->free)
        d->dev->free(d->dev_ctx);
    d->dev = NULL;
    d->dev_ctx = NULL;
}

void ssm_dist_abort(const ssm_dist *d, int exit_code, const char *msg) {
    (void)exit_code;
    if (msg)
        fprintf(stderr, "ssmkit: rank %d of %d: %s\n", d ? d->rank : 0, d ? d->size : 1, msg);
    fflush(stderr);
}

const char *ssm_dist_backend(void) { return "none"; }

ssm_code ssm_dist_allreduce(const ssm_dist *d, void *buf, size_t count, ssm_dist_type type,
                            ssm_error *err) {
    (void)d, (void)buf, (void)count, (void)type, (void)err;
    return SSM_OK;
}

ssm_code ssm_dist_iallreduce(const ssm_dist *d, void *buf, size_t count, ssm_dist_type type,
                             ssm_dist_request *req, ssm_error *err) {
    (void)d, (void)buf, (void)count, (void)type, (void)err;
    req->handles = NULL;
    req->n = 0;
    return SSM_OK;
}

ssm_code ssm_dist_wait(const ssm_dist *d, ssm_dist_request *req, ssm_error *err) {
    (void)d, (void)req, (void)err;
    return SSM_OK;
}

ssm_code ssm_dist_bcast(const ssm_dist *d, void *buf, size_t bytes, int root, ssm_error *err) {
    (void)d, (void)buf, (void)bytes;
    return root == 0 ? SSM_OK : ssm_fail(err, SSM_EINVAL, "broadcast from rank %d of 1", root);
}

ssm_code ssm_dist_barrier(const ssm_dist *d, ssm_error *err) {
    (void)d, (void)err;
    return SSM_OK;
}

ssm_code ssm_dist_allgatherv(const ssm_dist *d, const void *send, size_t bytes, void **out,
                             size_t *out_bytes, ssm_error *err) {
    (void)d;
    *out = NULL;
    *out_bytes = 0;
    if (!bytes)
        return SSM_OK;
    if (!(*out = malloc(bytes)))
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate %zu bytes to gather", bytes);
    memcpy(*out, send, bytes);
    *out_bytes = bytes;
    return SSM_OK;
}
#endif
