// defines: the CLI test helpers (see cli_fixture.h)
#include "tests/util/cli_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/util/testutil.h"

void cf_pattern_image(uint8_t *img, int k, uint64_t *state) {
    for (int i = 0; i < 28 * 28; i++)
        img[i] = (uint8_t)(tu_uniform(state) * 90);
    int r0 = 2 + (k % 5) * 5, c0 = k < 5 ? 3 : 17;
    for (int r = r0; r < r0 + 6 && r < 28; r++)
        for (int c = c0; c < c0 + 6; c++)
            img[r * 28 + c] = (uint8_t)(200 + tu_uniform(state) * 55);
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int write_split(const char *dir, const char *prefix, int n, uint64_t *state) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *fi = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    FILE *fl = fopen(path, "wb");
    if (!fi || !fl)
        return -1;
    uint8_t h[16];
    be32(h, 0x803);
    be32(h + 4, (uint32_t)n);
    be32(h + 8, 28);
    be32(h + 12, 28);
    fwrite(h, 1, 16, fi);
    be32(h, 0x801);
    be32(h + 4, (uint32_t)n);
    fwrite(h, 1, 8, fl);
    uint8_t img[28 * 28];
    for (int i = 0; i < n; i++) {
        uint8_t k = (uint8_t)(i % 10);
        cf_pattern_image(img, k, state);
        fwrite(img, 1, sizeof img, fi);
        fwrite(&k, 1, 1, fl);
    }
    int bad = ferror(fi) || ferror(fl);
    bad |= fclose(fi) != 0;
    bad |= fclose(fl) != 0;
    return bad ? -1 : 0;
}

int cf_write_synthetic_idx(const char *dir, int n_train, int n_test, uint64_t seed) {
    uint64_t state = seed * 2654435761u + 1;
    if (write_split(dir, "train", n_train, &state))
        return -1;
    return write_split(dir, "t10k", n_test, &state);
}

int cf_run(const char *cmd, const char *out_path, const char *err_path) {
    char full[8192];
    snprintf(full, sizeof full, "%s >%s 2>%s", cmd, out_path ? out_path : "/dev/null",
             err_path ? err_path : "/dev/null");
    int st = system(full);
    if (st == -1)
        return -1;
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    int code = WEXITSTATUS(st);
    return code; // the shell reports a killed child as 128 + signal too
}

char *cf_read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) {
        s[n] = 0;
        if (len)
            *len = n;
    }
    return s;
}

double cf_json_number(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return NAN;
    return strtod(p + strlen(pat), NULL);
}
