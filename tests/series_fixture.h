// defines: fx_dir, fx_init, fx_cleanup, fx_path, fx_write, fx_hammer_mutate
// Fixture files for the time-series reader suites: a private temp directory
// (mkdtemp), files written into it, and the byte mutations of the hammer tests.
// Header-only so that each suite owns its copy (the suites are separate binaries).
#pragma once
#include <check.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fx_dir[256];

static void fx_init(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fx_dir, sizeof fx_dir, "%s/ssmkit_series_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fx_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static int fx_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void fx_cleanup(void) { nftw(fx_dir, fx_rm, 8, FTW_DEPTH | FTW_PHYS); }

static void fx_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", fx_dir, name);
}

// Writes `n` bytes (n = strlen when SIZE_MAX) to fx_dir/name; path into out.
static void fx_write(char *out, size_t cap, const char *name, const char *data, size_t n) {
    fx_path(out, cap, name);
    FILE *f = fopen(out, "wb");
    ck_assert_ptr_nonnull(f);
    if (n == SIZE_MAX)
        n = strlen(data);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static uint64_t fx_next(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

// Mutation k of a valid file (seeded): overwrite a byte with a chosen or random
// value, delete a byte, or truncate. Writes the result into buf; returns its length.
__attribute__((unused)) static size_t fx_hammer_mutate(char *buf, const char *src, size_t n, uint64_t *seed) {
    static const char specials[] = {',', '\n', '\t', ':', '?', '"', '@', '#', '.', '-', 'e', '\0',
                                    '\r', ' ', 'N', '9', (char)0xff};
    memcpy(buf, src, n);
    size_t pos = (size_t)(fx_next(seed) % n);
    switch (fx_next(seed) % 4) {
    case 0: buf[pos] = specials[fx_next(seed) % sizeof specials]; return n;
    case 1: buf[pos] = (char)(fx_next(seed) & 0xff); return n;
    case 2: memmove(buf + pos, buf + pos + 1, n - pos - 1); return n - 1;
    default: return pos; // truncated at pos
    }
}
