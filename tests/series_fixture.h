// defines: fx_dir, fx_init, fx_cleanup, fx_path, fx_write, fx_hammer_mutate
// Fixture files for the time-series reader suites: a private temp directory
// (mkdtemp), files written into it, and the byte mutations of the hammer tests.
// Header-only so that each suite owns its copy of fx_dir (the suites are separate
// binaries); the work is tests/util's.
#pragma once
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/util/files.h"
#include "tests/util/testutil.h"

static char fx_dir[256];

static inline void fx_init(void) {
    if (tu_mkdtemp(fx_dir, sizeof fx_dir, "ssmkit_series")) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void fx_cleanup(void) { tu_rmtree(fx_dir); }

static inline void fx_path(char *out, size_t cap, const char *name) {
    tu_path(out, cap, fx_dir, name);
}

// Writes `n` bytes (n = strlen when SIZE_MAX) to fx_dir/name; path into out.
static inline void fx_write(char *out, size_t cap, const char *name, const char *data, size_t n) {
    fx_path(out, cap, name);
    tu_write_file(out, data, n == SIZE_MAX ? strlen(data) : n);
}

// Mutation k of a valid file (seeded): overwrite a byte with a chosen or random
// value, delete a byte, or truncate. Writes the result into buf; returns its length.
static inline size_t fx_hammer_mutate(char *buf, const char *src, size_t n, uint64_t *seed) {
    static const char specials[] = {',', '\n', '\t', ':', '?', '"', '@', '#', '.', '-', 'e', '\0',
                                    '\r', ' ', 'N', '9', (char)0xff};
    memcpy(buf, src, n);
    size_t pos = (size_t)(tu_next(seed) % n);
    switch (tu_next(seed) % 4) {
    case 0: buf[pos] = specials[tu_next(seed) % sizeof specials]; return n;
    case 1: buf[pos] = (char)(tu_next(seed) & 0xff); return n;
    case 2: memmove(buf + pos, buf + pos + 1, n - pos - 1); return n - 1;
    default: return pos; // truncated at pos
    }
}
