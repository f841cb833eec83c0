// defines: the atomic file writer (see atomic_file.h)
#include "core/atomic_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Temp names differ per process and per call, so concurrent savers never share one.
static atomic_uint tmp_counter;

static void dir_of(const char *path, char *dir, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else if (slash == path)
        snprintf(dir, n, "/");
    else
        snprintf(dir, n, "%.*s", (int)(slash - path), path);
}

ssm_code ssm_atomic_open(ssm_atomic_file *a, const char *path, ssm_error *err) {
    memset(a, 0, sizeof *a);
    if (strlen(path) + 32 >= sizeof a->tmp)
        return ssm_fail(err, SSM_EINVAL, "%s: path too long", path);
    snprintf(a->path, sizeof a->path, "%s", path);
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!*base)
        return ssm_fail(err, SSM_EINVAL, "%s: names a directory, expected a file path", path);
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        unsigned k = atomic_fetch_add(&tmp_counter, 1u);
        int w = snprintf(a->tmp, sizeof a->tmp, "%s/.%s.%ld.%u.tmp", dir, base, (long)getpid(), k);
        if (w < 0 || (size_t)w >= sizeof a->tmp) {
            a->tmp[0] = '\0'; // never leave a truncated name for abort to unlink
            return ssm_fail(err, SSM_EINVAL, "%s: path too long", path);
        }
        // 0666 & ~umask, as a plain fopen would give; O_EXCL so a stale temp is never reused.
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        a->tmp[0] = '\0';
        return ssm_fail(err, SSM_EIO, "%s: cannot create a temp file in %s: %s", path, dir,
                        strerror(e));
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        a->tmp[0] = '\0';
        return ssm_fail(err, SSM_EIO, "%s: fdopen: %s", path, strerror(e));
    }
    return SSM_OK;
}

ssm_code ssm_atomic_write(ssm_atomic_file *a, const void *buf, size_t n, ssm_error *err) {
    if (!a->f || a->failed)
        return ssm_fail(err, SSM_EIO, "%s: write after a failed write", a->path);
    if (n && fwrite(buf, 1, n, a->f) != n) {
        a->failed = 1;
        return ssm_fail(err, SSM_EIO, "%s: write failed: %s", a->path, strerror(errno));
    }
    return SSM_OK;
}

void ssm_atomic_abort(ssm_atomic_file *a) {
    if (a->f)
        fclose(a->f);
    a->f = NULL;
    if (a->tmp[0])
        unlink(a->tmp);
    a->tmp[0] = '\0';
}

ssm_code ssm_atomic_commit(ssm_atomic_file *a, ssm_error *err) {
    if (!a->f || a->failed) {
        ssm_atomic_abort(a);
        return ssm_fail(err, SSM_EIO, "%s: not written (an earlier write failed)", a->path);
    }
    const char *step = NULL;
    if (fflush(a->f) != 0)
        step = "flush";
    else if (fsync(fileno(a->f)) != 0)
        step = "fsync";
    if (step) {
        int e = errno;
        ssm_atomic_abort(a);
        return ssm_fail(err, SSM_EIO, "%s: %s failed: %s (the previous file is unchanged)", a->path,
                        step, strerror(e));
    }
    int rc = fclose(a->f);
    a->f = NULL;
    if (rc != 0 || rename(a->tmp, a->path) != 0) {
        int e = errno;
        ssm_atomic_abort(a);
        return ssm_fail(err, SSM_EIO, "%s: %s failed: %s (the previous file is unchanged)", a->path,
                        rc ? "close" : "rename", strerror(e));
    }
    a->tmp[0] = '\0';
    // Make the rename durable. Some filesystems refuse fsync on a directory
    // (EINVAL); the data is already safe there, so only real I/O errors count.
    char dir[4096];
    dir_of(a->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int frc = fsync(dfd);
        int e = errno;
        close(dfd);
        if (frc != 0 && e == EIO)
            return ssm_fail(err, SSM_EIO, "%s: fsync of directory %s failed: %s", a->path, dir,
                            strerror(e));
    }
    return SSM_OK;
}

ssm_code ssm_write_file_atomic(const char *path, const void *buf, size_t n, ssm_error *err) {
    ssm_atomic_file a;
    SSM_TRY(ssm_atomic_open(&a, path, err));
    ssm_code rc = ssm_atomic_write(&a, buf, n, err);
    if (rc != SSM_OK) {
        ssm_atomic_abort(&a);
        return rc;
    }
    return ssm_atomic_commit(&a, err);
}

// .<name>.<pid>.<k>.tmp, exactly: the shape ssm_atomic_open gives its temp files
static int is_leftover(const char *n) {
    size_t len = strlen(n);
    if (n[0] != '.' || len < 9 || strcmp(n + len - 4, ".tmp") != 0)
        return 0;
    const char *end = n + len - 4, *p = end;
    int dots = 0;
    while (p > n + 1 && dots < 2) { // back over <k> and <pid>: digits, a dot each
        const char *q = p;
        while (q > n + 1 && isdigit((unsigned char)q[-1]))
            q--;
        if (q == p || q[-1] != '.')
            return 0;
        p = q - 1;
        dots++;
    }
    return dots == 2 && p > n + 1;
}

int ssm_atomic_remove_leftovers(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    char path[8192];
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_leftover(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        removed += unlink(path) == 0;
    }
    closedir(d);
    return removed;
}
