// defines: the CLI test helpers (see cli_fixture.h)
#include "tests/util/cli_fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/util/files.h"
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
    char path[2048];
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

static const char *IDX_CONFIG =
    "data:\n  name: idx\n  path: %s/data\n  val_fraction: 0.1\n  batch_size: 32\n  num_workers: 1\n"
    "adapter:\n  name: image_patches\n  patch_size: 7\n  cls_token: middle\n"
    "  orders: [row, reverse]\n"
    "backbone:\n  d_model: 24\n  n_layers: 2\n  d_state: 8\n"
    "task:\n  name: classify\n  num_classes: 10\n  label_smoothing: 0.1\n  pool: cls\n"
    "optim:\n  lr: 3e-3\n  warmup_steps: 10\n  min_lr: 1e-5\n  grad_clip: 1.0\n"
    "train:\n  epochs: 6\n  log_every: 10\n  checkpoint_every: 7\n"
    "run:\n  dir: %s/runs\n  seed: 3\n  threads: 2\n%s";

void cf_idx_fixture(char *dir, size_t cap, const char *tag, int with_data, const char *run_extra) {
    ck_assert_int_eq(tu_mkdtemp(dir, cap, tag), 0);
    char path[1024];
    if (with_data) {
        snprintf(path, sizeof path, "%s/data", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        ck_assert_int_eq(cf_write_synthetic_idx(path, 1200, 300, 7), 0);
    }
    char *text;
    ck_assert_int_ge(asprintf(&text, IDX_CONFIG, dir, dir, run_extra ? run_extra : ""), 0);
    snprintf(path, sizeof path, "%s/cfg.yaml", dir);
    tu_write_text(path, text);
    free(text);
}

const char *cf_bin(void) {
    const char *b = getenv("SSMKIT_BIN");
    if (b && *b)
        return b;
#ifdef SSM_CUDA
    if (access("build-cuda/ssmkit", X_OK) == 0)
        return "build-cuda/ssmkit";
#endif
    return "build/ssmkit";
}

int cf_run(const char *cmd, const char *out_path, const char *err_path) {
    char *full;
    if (asprintf(&full, "%s >%s 2>%s", cmd, out_path ? out_path : "/dev/null",
                 err_path ? err_path : "/dev/null") < 0)
        return -1;
    int st = system(full);
    free(full);
    if (st == -1)
        return -1;
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    int code = WEXITSTATUS(st);
    return code; // the shell reports a killed child as 128 + signal too
}

int cf_ssmkit(const char *dir, const char *env, const char *args) {
    char *cmd, out[1024], err[1024];
    ck_assert_int_ge(asprintf(&cmd, "%s %s %s", env ? env : "", cf_bin(), args), 0);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    int rc = cf_run(cmd, out, err);
    free(cmd);
    return rc;
}

char *cf_output(const char *dir, const char *which) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.txt", dir, which);
    char *s = cf_read_file(path, NULL);
    ck_assert_msg(s != NULL, "%s missing", path);
    return s;
}

int cf_run_capture(const char *cmd, const char *dir, char *last, size_t cap, char *err_text,
                   size_t err_cap) {
    char out[1024], err[1024];
    snprintf(out, sizeof out, "%s/stdout.txt", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    int rc = cf_run(cmd, out, err);
    FILE *f = last && cap ? fopen(out, "r") : NULL;
    if (last && cap)
        last[0] = 0;
    if (f) { // read in pieces of cap: a line longer than that leaves its last piece
        char *piece = malloc(cap);
        while (piece && fgets(piece, (int)cap, f))
            snprintf(last, cap, "%s", piece);
        free(piece);
        fclose(f);
    }
    if (err_text && err_cap) {
        err_text[0] = 0;
        if ((f = fopen(err, "r"))) {
            size_t n = fread(err_text, 1, err_cap - 1, f);
            err_text[n] = 0;
            fclose(f);
        }
    }
    if (rc != 0) { // show why in the suite's output
        char tail[1100];
        snprintf(tail, sizeof tail, "tail -5 %s >&2", err);
        if (system(tail)) {
        }
    }
    return rc;
}

int cf_run_last_line(const char *cmd, const char *dir, char *last, size_t cap) {
    return cf_run_capture(cmd, dir, last, cap, NULL, 0);
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
