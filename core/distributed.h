// defines: ssm_dist, ssm_dist_type, ssm_dist_device_ops, SSM_DIST_REAL, ssm_dist_launched,
//          ssm_dist_init, ssm_dist_finalize, ssm_dist_abort, ssm_dist_backend, ssm_dist_is_root,
//          ssm_dist_allreduce, ssm_dist_bcast, ssm_dist_barrier, ssm_dist_allgatherv,
//          ssm_dist_grad_average, ssm_dist_check_same, ssm_dist_hash, ssm_dist_cores,
//          ssm_dist_request, ssm_dist_iallreduce, ssm_dist_wait
// Data-parallel training over processes (docs/distributed.md): `mpirun -np N ssmkit train`
// starts N ranks; each reads its shard of every global batch, the ranks sum their weighted
// gradients into the average of the global batch (one call on the flat gradient buffer,
// DESIGN.md invariant 3), and every rank then holds the same weights.
//
// Two builds of this file, one API:
//   MPI (make MPI=1, or detected: mpicc / pkg-config ompi-c): a process started by a
//     launcher (mpirun, srun with PMI) initialises MPI, even alone (`mpirun -np 1`), and
//     its collectives are MPI_COMM_WORLD's. A process started without one stays alone and
//     never touches MPI (no singleton start-up).
//   no MPI: always alone; a process that finds a launcher's environment naming several
//     ranks refuses to start (it would train N independent copies of one run).
// Alone (size 1, `active` 0) every collective is a no-op on the caller's buffer.
//
// A GPU rank's gradients live on its device: core/cuda/nccl.h attaches an NCCL reducer
// (`dev`), and ssm_dist_grad_average sends device buffers there.
//
// Errors are values; a rank that cannot go on calls ssm_dist_abort (cli/ only), which
// names the rank and takes the whole job down (MPI_Abort) instead of leaving the others
// waiting in a collective.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef enum { SSM_DIST_FLOAT = 0, SSM_DIST_DOUBLE, SSM_DIST_INT64, SSM_DIST_BYTE } ssm_dist_type;
#define SSM_DIST_REAL (REAL_IS_DOUBLE ? SSM_DIST_DOUBLE : SSM_DIST_FLOAT)

// The device side of the gradient average (core/cuda/nccl.c): grad [n] is device memory.
typedef struct {
    const char *name; // "nccl"
    ssm_code (*grad_average)(void *ctx, real *grad, size_t n, double share, ssm_error *err);
    void (*free)(void *ctx);
} ssm_dist_device_ops;

typedef struct {
    int rank, size;             // this process among all ranks: 0 of 1 alone
    int local_rank, local_size; // among the ranks of this machine
    int active;                 // 1: MPI is initialised (started by a launcher, any size)
    const ssm_dist_device_ops *dev; // the device reducer, or NULL
    void *dev_ctx;
} ssm_dist;

// What a launcher's environment says of this process, read without MPI: OpenMPI
// (OMPI_COMM_WORLD_RANK/_SIZE/_LOCAL_RANK/_LOCAL_SIZE), MPICH and Intel MPI (PMI_RANK/
// PMI_SIZE, MPI_LOCALRANKID/MPI_LOCALNRANKS), MVAPICH (MV2_COMM_WORLD_*), and PMIx alone
// (PMIX_RANK: the size is then only known to be at least rank + 1). Returns 1 and fills the
// four (local ones default to 0 and 1) when found, else 0 (and rank 0 of 1).
int ssm_dist_launched(int *rank, int *size, int *local_rank, int *local_size);

// Started by a launcher: MPI_Init (MPI build), the world's rank and size, the local rank
// and size from a shared-memory split. Else: alone. A no-MPI build started as one of
// several ranks: SSM_ECONFIG naming the rank, the size and the fix.
ssm_code ssm_dist_init(ssm_dist *d, int *argc, char ***argv, ssm_error *err);
// Frees the device reducer; MPI_Finalize when active. Idempotent.
void ssm_dist_finalize(ssm_dist *d);
// Prints "ssmkit: rank R of N: msg" on stderr (msg NULL: the caller printed its message)
// and ends every rank of the job with exit_code (MPI_Abort); alone, only prints. Returns
// only when alone (cli/ then exits).
void ssm_dist_abort(const ssm_dist *d, int exit_code, const char *msg);
// "mpi" in an MPI build, "none" without.
const char *ssm_dist_backend(void);
static inline int ssm_dist_is_root(const ssm_dist *d) { return !d || d->rank == 0; }

// In-place sum over the ranks of buf [count] (host memory): every rank receives the same
// sum. d may be NULL (alone).
ssm_code ssm_dist_allreduce(const ssm_dist *d, void *buf, size_t count, ssm_dist_type type,
                            ssm_error *err);
// The same sum started without waiting (MPI_Iallreduce): buf must stay untouched until
// ssm_dist_wait(req) returns, which completes it (and frees req's handles). What the ranks
// do meanwhile overlaps the sum only as far as the MPI library progresses it in the
// background (bench/dist measures it; docs/benchmarks.md). Alone: done at once.
typedef struct {
    void *handles; // the MPI requests (one per 2^30 elements), or NULL
    int n;
} ssm_dist_request;
ssm_code ssm_dist_iallreduce(const ssm_dist *d, void *buf, size_t count, ssm_dist_type type,
                             ssm_dist_request *req, ssm_error *err);
ssm_code ssm_dist_wait(const ssm_dist *d, ssm_dist_request *req, ssm_error *err);
// buf [bytes] of rank `root` to every rank.
ssm_code ssm_dist_bcast(const ssm_dist *d, void *buf, size_t bytes, int root, ssm_error *err);
ssm_code ssm_dist_barrier(const ssm_dist *d, ssm_error *err);
// Every rank's send [bytes] (bytes may differ per rank, 0 included), concatenated in rank
// order into *out (malloc'd, *out_bytes long; the caller frees it; NULL when empty).
ssm_code ssm_dist_allgatherv(const ssm_dist *d, const void *send, size_t bytes, void **out,
                             size_t *out_bytes, ssm_error *err);

// The gradient average of a data-parallel step: this rank's grad [n] is the mean over its
// shard of the global batch, `share` = its samples / the global batch's (0 for an empty
// shard: its grad is ignored and need not be set). Afterwards every rank holds
// sum_r share_r * grad_r: the global batch's mean, as one process would compute it (up to
// the order of the float additions). on_device: grad is device memory (the NCCL reducer;
// SSM_EDEVICE without one, unless this is the only rank). Alone: nothing to do.
ssm_code ssm_dist_grad_average(const ssm_dist *d, real *grad, size_t n, double share,
                               int on_device, ssm_error *err);

// 64-bit FNV-1a of bytes: a fingerprint of the weights.
uint64_t ssm_dist_hash(const void *p, size_t bytes);
// SSM_EDATA ("what" named, with the step) unless every rank passes the same hash: ranks
// whose weights drifted apart train different models.
ssm_code ssm_dist_check_same(const ssm_dist *d, uint64_t hash, const char *what, ssm_error *err);

// CPU threads this rank should run: the cores in its affinity mask, and no more than the
// machine's cores divided among the local ranks (mpirun --bind-to none leaves every rank
// every core). At least 1.
int ssm_dist_cores(const ssm_dist *d);
