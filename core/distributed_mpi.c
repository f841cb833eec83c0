// defines: ssm_dist_init, ssm_dist_finalize, ssm_dist_abort, ssm_dist_backend,
//          ssm_dist_allreduce, ssm_dist_iallreduce, ssm_dist_wait, ssm_dist_bcast,
//          ssm_dist_barrier, ssm_dist_allgatherv
//          (the MPI build; see core/distributed.h. Without MPI this file is empty and
//          core/distributed.c has the one-process versions.)
#ifdef SSM_MPI
#include "core/distributed.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Every MPI call is checked: the communicator returns errors (MPI_ERRORS_RETURN) and the
// message names the call, the rank and MPI's reason.
#define MPI_TRY(d, call, err)                                                             \
    do {                                                                                  \
        int mpi_rc_ = (call);                                                             \
        if (mpi_rc_ != MPI_SUCCESS)                                                       \
            return mpi_fail((d), mpi_rc_, __FILE__, __LINE__, #call, (err));              \
    } while (0)

static ssm_code mpi_fail(const ssm_dist *d, int rc, const char *file, int line, const char *call,
                         ssm_error *err) {
    char why[MPI_MAX_ERROR_STRING] = "";
    int n = 0;
    MPI_Error_string(rc, why, &n);
    return ssm_fail(err, SSM_EIO, "%s:%d: rank %d of %d: %s failed: %s (a rank left the job, "
                    "or the network between ranks failed)", file, line, d ? d->rank : 0,
                    d ? d->size : 1, call, why);
}

// MPI counts are int: larger buffers go in pieces of this many elements.
#define MPI_CHUNK (1 << 30)

static MPI_Datatype mpi_type(ssm_dist_type t, size_t *el) {
    switch (t) {
    case SSM_DIST_FLOAT: *el = sizeof(float); return MPI_FLOAT;
    case SSM_DIST_DOUBLE: *el = sizeof(double); return MPI_DOUBLE;
    case SSM_DIST_INT64: *el = sizeof(int64_t); return MPI_INT64_T;
    default: *el = 1; return MPI_BYTE;
    }
}

ssm_code ssm_dist_init(ssm_dist *d, int *argc, char ***argv, ssm_error *err) {
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    int rank, size, lr, ls;
    if (!ssm_dist_launched(&rank, &size, &lr, &ls))
        return SSM_OK; // alone: MPI is never started
    int provided = 0, inited = 0;
    MPI_Initialized(&inited);
    // Only the loop's thread calls MPI (the prefetch thread and OpenMP never do).
    if (!inited)
        MPI_TRY(d, MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), err);
    d->active = 1;
    MPI_TRY(d, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), err);
    MPI_TRY(d, MPI_Comm_rank(MPI_COMM_WORLD, &d->rank), err);
    MPI_TRY(d, MPI_Comm_size(MPI_COMM_WORLD, &d->size), err);
    // the ranks sharing this machine's memory: its GPUs and cores are theirs
    MPI_Comm local;
    MPI_TRY(d, MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                                   &local), err);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    return SSM_OK;
}

void ssm_dist_finalize(ssm_dist *d) {
    if (d->dev && d->dev->free)
        d->dev->free(d->dev_ctx);
    d->dev = NULL;
    d->dev_ctx = NULL;
    int fin = 0;
    if (d->active && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
        MPI_Finalize();
    d->active = 0;
}

void ssm_dist_abort(const ssm_dist *d, int exit_code, const char *msg) {
    if (msg)
        fprintf(stderr, "ssmkit: rank %d of %d: %s\n", d ? d->rank : 0, d ? d->size : 1, msg);
    fflush(stderr);
    if (d && d->active)
        MPI_Abort(MPI_COMM_WORLD, exit_code ? exit_code : 1);
}

const char *ssm_dist_backend(void) { return "mpi"; }

ssm_code ssm_dist_allreduce(const ssm_dist *d, void *buf, size_t count, ssm_dist_type type,
                            ssm_error *err) {
    if (!d || !d->active || type == SSM_DIST_BYTE)
        return type == SSM_DIST_BYTE ? ssm_fail(err, SSM_EINVAL, "cannot sum bytes") : SSM_OK;
    size_t el;
    MPI_Datatype t = mpi_type(type, &el);
    for (size_t off = 0; off < count; off += MPI_CHUNK) {
        int n = (int)(count - off < MPI_CHUNK ? count - off : MPI_CHUNK);
        MPI_TRY(d, MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * el, n, t, MPI_SUM,
                                 MPI_COMM_WORLD), err);
    }
    return SSM_OK;
}

ssm_code ssm_dist_iallreduce(const ssm_dist *d, void *buf, size_t count, ssm_dist_type type,
                             ssm_dist_request *req, ssm_error *err) {
    req->handles = NULL;
    req->n = 0;
    if (!d || !d->active || type == SSM_DIST_BYTE)
        return type == SSM_DIST_BYTE ? ssm_fail(err, SSM_EINVAL, "cannot sum bytes") : SSM_OK;
    size_t el, pieces = (count + MPI_CHUNK - 1) / MPI_CHUNK;
    MPI_Datatype t = mpi_type(type, &el);
    MPI_Request *r = calloc(pieces ? pieces : 1, sizeof *r);
    if (!r)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    req->handles = r;
    for (size_t off = 0; off < count; off += MPI_CHUNK) {
        int n = (int)(count - off < MPI_CHUNK ? count - off : MPI_CHUNK);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + off * el, n, t, MPI_SUM,
                                MPI_COMM_WORLD, &r[req->n]);
        if (rc != MPI_SUCCESS) {
            ssm_error keep;
            ssm_code code = mpi_fail(d, rc, __FILE__, __LINE__, "MPI_Iallreduce", &keep);
            ssm_dist_wait(d, req, NULL); // the pieces already started
            if (err)
                *err = keep;
            return code;
        }
        req->n++;
    }
    return SSM_OK;
}

ssm_code ssm_dist_wait(const ssm_dist *d, ssm_dist_request *req, ssm_error *err) {
    int rc = req->n ? MPI_Waitall(req->n, req->handles, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    free(req->handles);
    req->handles = NULL;
    req->n = 0;
    if (rc != MPI_SUCCESS)
        return mpi_fail(d, rc, __FILE__, __LINE__, "MPI_Waitall", err);
    return SSM_OK;
}

ssm_code ssm_dist_bcast(const ssm_dist *d, void *buf, size_t bytes, int root, ssm_error *err) {
    if (!d || !d->active)
        return root == 0 ? SSM_OK : ssm_fail(err, SSM_EINVAL, "broadcast from rank %d of 1", root);
    for (size_t off = 0; off < bytes; off += MPI_CHUNK) {
        int n = (int)(bytes - off < MPI_CHUNK ? bytes - off : MPI_CHUNK);
        MPI_TRY(d, MPI_Bcast((char *)buf + off, n, MPI_BYTE, root, MPI_COMM_WORLD), err);
    }
    return SSM_OK;
}

ssm_code ssm_dist_barrier(const ssm_dist *d, ssm_error *err) {
    if (d && d->active)
        MPI_TRY(d, MPI_Barrier(MPI_COMM_WORLD), err);
    return SSM_OK;
}

ssm_code ssm_dist_allgatherv(const ssm_dist *d, const void *send, size_t bytes, void **out,
                             size_t *out_bytes, ssm_error *err) {
    *out = NULL;
    *out_bytes = 0;
    if (!d || !d->active) {
        if (!bytes)
            return SSM_OK;
        if (!(*out = malloc(bytes)))
            return ssm_fail(err, SSM_ENOMEM, "cannot allocate %zu bytes to gather", bytes);
        memcpy(*out, send, bytes);
        *out_bytes = bytes;
        return SSM_OK;
    }
    if (bytes > INT_MAX)
        return ssm_fail(err, SSM_EINVAL, "rank %d gathers %zu bytes: at most %d at once", d->rank,
                        bytes, INT_MAX);
    int mine = (int)bytes, *counts = malloc((size_t)d->size * 2 * sizeof *counts);
    if (!counts)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    int *displs = counts + d->size;
    ssm_code rc = SSM_OK;
    int mrc = MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    if (mrc != MPI_SUCCESS) {
        rc = mpi_fail(d, mrc, __FILE__, __LINE__, "MPI_Allgather", err);
        goto done;
    }
    size_t total = 0;
    for (int r = 0; r < d->size; r++) {
        if (total > (size_t)INT_MAX - (size_t)counts[r]) {
            rc = ssm_fail(err, SSM_EINVAL, "the ranks gather more than %d bytes at once", INT_MAX);
            goto done;
        }
        displs[r] = (int)total;
        total += (size_t)counts[r];
    }
    if (total) {
        if (!(*out = malloc(total))) {
            rc = ssm_fail(err, SSM_ENOMEM, "cannot allocate %zu bytes to gather", total);
            goto done;
        }
        mrc = MPI_Allgatherv(send, mine, MPI_BYTE, *out, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
        if (mrc != MPI_SUCCESS) {
            free(*out);
            *out = NULL;
            rc = mpi_fail(d, mrc, __FILE__, __LINE__, "MPI_Allgatherv", err);
            goto done;
        }
        *out_bytes = total;
    }
done:
    free(counts);
    return rc;
}
#else
// ISO C wants a translation unit to declare something.
typedef int ssm_dist_mpi_absent;
#endif
