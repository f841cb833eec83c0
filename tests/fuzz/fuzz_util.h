// defines: fuzz_path, fuzz_write, fuzz_split, fuzz_quiet
// What every libFuzzer target shares (tests/fuzz/fuzz.mk, docs/fuzzing.md). The readers
// take paths, so each input is written to a file in one private temporary folder (made
// once per process, removed with its files at exit) under the name the reader expects
// (the extension picks the format for some). Header-only: each target is one .c file.
#pragma once
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static char fuzz_dir_[64];

static int fuzz_rm_(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

static void fuzz_cleanup_(void) {
    if (fuzz_dir_[0])
        nftw(fuzz_dir_, fuzz_rm_, 8, FTW_DEPTH | FTW_PHYS);
}

// out <- "<the process's temp folder>/<name>" (name may hold one subfolder level, made here).
static inline const char *fuzz_path(const char *name) {
    static char out[4][256];
    static int next;
    if (!fuzz_dir_[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/ssmfuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir_)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup_);
    }
    char *p = out[next++ % 4];
    snprintf(p, 256, "%s/%s", fuzz_dir_, name);
    return p;
}

// Writes data [size] to fuzz_path(name) and returns that path; the file is removed at exit.
static inline const char *fuzz_write(const char *name, const void *data, size_t size) {
    const char *path = fuzz_path(name);
    const char *slash = strrchr(name, '/');
    if (slash) { // one folder level: "h5_files/a.h5"
        char dir[256];
        snprintf(dir, sizeof dir, "%s/%.*s", fuzz_dir_, (int)(slash - name), name);
        mkdir(dir, 0700);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
    return path;
}

// Splits data at the first line "%%": *a = before it, *b = after it (*nb = 0 when there is
// no such line). Targets that read two files take both from one input this way.
static inline void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *na,
                              const uint8_t **b, size_t *nb) {
    *a = data;
    *na = size;
    *b = data + size;
    *nb = 0;
    for (size_t i = 0; i + 2 <= size; i++) {
        if ((i == 0 || data[i - 1] == '\n') && data[i] == '%' && data[i + 1] == '%' &&
            (i + 2 == size || data[i + 2] == '\n')) {
            *na = i;
            *b = data + (i + 3 <= size ? i + 3 : size);
            *nb = size - (size_t)(*b - data);
            return;
        }
    }
}

// The library's progress lines would drown libFuzzer's; errors come back as values anyway.
static inline void fuzz_quiet(void) { ssm_log_set_level(SSM_LOG_ERROR); }
