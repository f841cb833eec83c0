// defines: the temporary folder and fixture file helpers (see files.h)
#include "tests/util/files.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tu_mkdtemp(char *dir, size_t cap, const char *tag) {
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, cap, "%s/%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

static int writable(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)ftw;
    if (flag == FTW_D && (sb->st_mode & 0700) != 0700)
        chmod(p, sb->st_mode | 0700);
    return 0;
}

static int removed(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int tu_rmtree(const char *dir) {
    struct stat st;
    if (lstat(dir, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    nftw(dir, writable, 16, FTW_PHYS); // parents before children: each can then be emptied
    return nftw(dir, removed, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void tu_path(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

void tu_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

void tu_write_text(const char *path, const char *text) { tu_write_file(path, text, strlen(text)); }
