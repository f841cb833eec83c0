// Check suite: image dataset files: the IDX reader (gzipped and plain, error
// messages, a corruption hammer), the PNG reader, and the real Fashion-MNIST
// files when installed. Batching and augmentation: test_datasets_batch.c.
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "datasets/dataset.h"
#include "datasets/idx.h"
#include "datasets/png.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

// ---------------------------------------------------------------- fixtures

static char g_dir[256];

static void make_dir(void) { ck_assert_int_eq(tu_mkdtemp(g_dir, sizeof g_dir, "ssm_ds"), 0); }
static void remove_dir(void) { tu_rmtree(g_dir); }
static void path_in(char *out, size_t cap, const char *name) { tu_path(out, cap, g_dir, name); }

static void write_bytes(const char *path, const void *p, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, p, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(p, 1, n, f), n);
        fclose(f);
    }
}

static uint8_t *read_whole(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *p = malloc(*n);
    ck_assert_uint_eq(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

// An IDX file written here, byte by byte (independent of the reader):
// header magic + big-endian dims, then `body_len` bytes of body.
static void write_idx(const char *name, int gz, uint32_t magic, int ndim, const uint32_t *dims,
                      const uint8_t *body, size_t body_len) {
    size_t hl = 4 + 4 * (size_t)ndim;
    uint8_t *buf = malloc(hl + body_len + 1);
    uint32_t words[5] = {magic};
    for (int d = 0; d < ndim; d++)
        words[1 + d] = dims[d];
    for (size_t w = 0; w < 1 + (size_t)ndim; w++)
        for (int k = 0; k < 4; k++)
            buf[4 * w + k] = (uint8_t)(words[w] >> (24 - 8 * k));
    if (body_len)
        memcpy(buf + hl, body, body_len);
    char path[256];
    path_in(path, sizeof path, name);
    write_bytes(path, buf, hl + body_len, gz);
    free(buf);
}

// Pixel and label formulas of the synthetic fixture.
static uint8_t fx_pixel(int64_t i, int64_t y, int64_t x) { return (uint8_t)((i * 7 + y * 3 + x * 11) % 256); }
static uint8_t fx_label(int64_t i) { return (uint8_t)((i * 3) % 10); }

// Writes a fixture split of n images of h x w (and n_labels labels).
static void write_fixture(const char *prefix, int gz, int64_t n, int64_t n_labels, int64_t h,
                          int64_t w) {
    uint8_t *px = malloc((size_t)(n * h * w));
    for (int64_t i = 0; i < n; i++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                px[(i * h + y) * w + x] = fx_pixel(i, y, x);
    uint8_t *lab = malloc((size_t)n_labels + 1);
    for (int64_t i = 0; i < n_labels; i++)
        lab[i] = fx_label(i);
    char name[128];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    write_idx(name, gz, 0x803, 3, (uint32_t[]){(uint32_t)n, (uint32_t)h, (uint32_t)w}, px,
              (size_t)(n * h * w));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    write_idx(name, gz, 0x801, 1, (uint32_t[]){(uint32_t)n_labels}, lab, (size_t)n_labels);
    free(px);
    free(lab);
}

// ---------------------------------------------------------------- IDX

START_TEST(idx_loads_gzipped_and_plain) {
    make_dir();
    write_fixture("train", 1, 50, 50, 6, 5);
    write_fixture("t10k", 0, 13, 13, 6, 5);
    const char *names[10] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    for (int s = 0; s < 2; s++) {
        ssm_image_dataset ds;
        ssm_error e = {0};
        ck_assert_int_eq(ssm_image_dataset_load_idx(&ds, g_dir, s ? "test" : "train", 10, names, &e),
                         SSM_OK);
        ck_assert_int_eq(ds.n, s ? 13 : 50);
        ck_assert_int_eq(ds.C, 1);
        ck_assert_int_eq(ds.H, 6);
        ck_assert_int_eq(ds.W, 5);
        ck_assert_int_eq(ds.num_classes, 10);
        ck_assert_str_eq(ds.class_names[3], "d");
        for (int64_t i = 0; i < ds.n; i++) {
            ck_assert_int_eq(ds.labels[i], fx_label(i));
            for (int64_t y = 0; y < 6; y++)
                for (int64_t x = 0; x < 5; x++)
                    ck_assert_int_eq(ds.pixels[(i * 6 + y) * 5 + x], fx_pixel(i, y, x));
        }
        ssm_image_dataset_free(&ds);
    }
    ssm_image_dataset ds;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_image_dataset_load_idx(&ds, g_dir, "valid", 10, NULL, &e), SSM_EINVAL);
    ck_assert_int_eq(ssm_image_dataset_load_idx(&ds, "/nonexistent/ssm", "train", 10, NULL, &e),
                     SSM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "train-images-idx3-ubyte.gz"));
    remove_dir();
}
END_TEST

static ssm_code load_train(ssm_error *e) {
    ssm_image_dataset ds;
    ssm_code rc = ssm_image_dataset_load_idx(&ds, g_dir, "train", 10, NULL, e);
    if (rc == SSM_OK)
        ssm_image_dataset_free(&ds);
    return rc;
}

START_TEST(idx_errors_name_file_and_expectation) {
    ssm_error e = {0};
    uint8_t body[1000];
    for (int i = 0; i < 1000; i++)
        body[i] = (uint8_t)i;
    make_dir();
    // truncated body: the brief's example message, verbatim
    write_idx("train-images-idx3-ubyte.gz", 1, 0x803, 3, (uint32_t[]){60000, 28, 28}, body, 1000);
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x801, 1, (uint32_t[]){10}, body, 10);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "train-images-idx3-ubyte.gz: truncated: header says 60000 images "
                                "of 28x28 (47040000 bytes) but only 1000 bytes follow"),
                  "%s", e.msg);

    // bad magic in the labels file
    write_idx("train-images-idx3-ubyte.gz", 1, 0x803, 3, (uint32_t[]){10, 4, 25}, body, 1000);
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x803, 1, (uint32_t[]){10}, body, 10);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "train-labels-idx1-ubyte.gz: bad magic 0x00000803: expected "
                                "0x00000801"), "%s", e.msg);
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x4D5A9000, 0, NULL, NULL, 0);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "not an IDX file"), "%s", e.msg);

    // count mismatch: 10 images, 9 labels (all in range)
    uint8_t lab[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x801, 1, (uint32_t[]){9}, lab, 9);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "train-images-idx3-ubyte.gz has 10 images but") &&
                      strstr(e.msg, "train-labels-idx1-ubyte.gz has 9 labels"), "%s", e.msg);

    // label out of range
    lab[7] = 10;
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x801, 1, (uint32_t[]){10}, lab, 10);
    ck_assert_int_eq(load_train(&e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "train-labels-idx1-ubyte.gz: label 10 at sample 7 is out of "
                                "range: expected 0..9"), "%s", e.msg);
    lab[7] = 7;

    // trailing bytes after the body
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x801, 1, (uint32_t[]){8}, lab, 10);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "header says 8 labels (8 bytes) but 2 more bytes follow"), "%s",
                  e.msg);

    // truncated header
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x801, 0, NULL, NULL, 0);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "truncated: expected 1 dimension sizes (4 bytes)"), "%s", e.msg);

    // a gzip stream cut in half is reported as truncation
    write_idx("train-labels-idx1-ubyte.gz", 1, 0x801, 1, (uint32_t[]){10}, lab, 10);
    char path[256];
    path_in(path, sizeof path, "train-images-idx3-ubyte.gz");
    size_t n;
    uint8_t *gzb = read_whole(path, &n);
    write_bytes(path, gzb, n / 2, 0);
    free(gzb);
    ck_assert_int_eq(load_train(&e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "train-images-idx3-ubyte.gz: truncated: header says 10 images of "
                                "4x25 (1000 bytes)") && strstr(e.msg, "gzip stream cut short"),
                  "%s", e.msg);
    remove_dir();
}
END_TEST

START_TEST(idx_hammer_flips_and_truncations) {
    make_dir();
    // a valid gzipped images file with incompressible-ish content
    enum { N = 20, H = 8, W = 9 };
    uint8_t px[N * H * W];
    uint64_t st = 12345;
    for (int i = 0; i < N * H * W; i++)
        px[i] = (uint8_t)(tu_uniform(&st) * 256);
    write_idx("h.gz", 1, 0x803, 3, (uint32_t[]){N, H, W}, px, sizeof px);
    char path[256], bad[256];
    path_in(path, sizeof path, "h.gz");
    path_in(bad, sizeof bad, "bad.gz");
    size_t len;
    uint8_t *orig = read_whole(path, &len);
    uint8_t *mut = malloc(len);
    int n_ok = 0, n_err = 0;
    for (int it = 0; it < 600; it++) {
        memcpy(mut, orig, len);
        size_t mlen = len;
        int truncate = it % 3 == 0;
        if (truncate) {
            mlen = (size_t)(tu_uniform(&st) * (double)len); // strictly shorter
        } else {
            int flips = 1 + it % 4;
            for (int k = 0; k < flips; k++)
                mut[(size_t)(tu_uniform(&st) * (double)len)] ^= (uint8_t)(1 + tu_uniform(&st) * 255);
        }
        write_bytes(bad, mut, mlen, 0);
        ssm_idx x;
        ssm_error e = {0};
        ssm_code rc = ssm_idx_read(bad, SSM_IDX_MAGIC_IMAGES, &x, &e);
        if (rc == SSM_OK) {
            // a valid result is the original (the gzip CRC guards the body)
            ck_assert_msg(!truncate, "a truncated file was accepted");
            ck_assert_int_eq(x.dims[0], N);
            ck_assert_int_eq(x.dims[1], H);
            ck_assert_int_eq(x.dims[2], W);
            ck_assert_int_eq(x.size, N * H * W);
            ck_assert(memcmp(x.data, px, sizeof px) == 0);
            ssm_idx_free(&x);
            n_ok++;
        } else {
            ck_assert_ptr_null(x.data);
            ck_assert_msg(strstr(e.msg, bad) == e.msg, "error does not name the file: %s", e.msg);
            n_err++;
        }
    }
    ck_assert_int_ge(n_err, 400);
    printf("idx hammer: %d mutations accepted (unchanged content), %d refused\n", n_ok, n_err);
    free(orig);
    free(mut);
    remove_dir();
}
END_TEST

// ---------------------------------------------------------------- PNG

// Writes an 8-bit PNG with libpng's classic API (independent of the reader).
static void write_png(const char *path, const uint8_t *px, int w, int h, int color_type) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    ck_assert(p && info);
    if (setjmp(png_jmpbuf(p)))
        ck_abort_msg("libpng failed writing the fixture");
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    int ch = color_type == PNG_COLOR_TYPE_RGB ? 3 : 1;
    for (int y = 0; y < h; y++)
        png_write_row(p, px + (size_t)y * w * ch);
    png_write_end(p, info);
    png_destroy_write_struct(&p, &info);
    fclose(f);
}

START_TEST(png_reads_back_exactly_and_refuses_corruption) {
    make_dir();
    enum { W = 7, H = 5 };
    uint8_t gray[H * W], rgb[H * W * 3];
    uint64_t st = 11;
    for (int i = 0; i < H * W; i++)
        gray[i] = (uint8_t)(tu_uniform(&st) * 256);
    for (int i = 0; i < H * W * 3; i++)
        rgb[i] = (uint8_t)(tu_uniform(&st) * 256);
    char gpath[256], cpath[256], bpath[256];
    path_in(gpath, sizeof gpath, "g.png");
    path_in(cpath, sizeof cpath, "c.png");
    path_in(bpath, sizeof bpath, "bad.png");
    write_png(gpath, gray, W, H, PNG_COLOR_TYPE_GRAY);
    write_png(cpath, rgb, W, H, PNG_COLOR_TYPE_RGB);
    real out[3 * H * W];
    ssm_error e = {0};
    int64_t sh, sw;
    ck_assert_int_eq(ssm_png_read(gpath, out, 1, H, W, SSM_RESIZE_NEAREST, &sh, &sw, &e), SSM_OK);
    ck_assert_int_eq(sh, H);
    ck_assert_int_eq(sw, W);
    for (int i = 0; i < H * W; i++)
        ck_assert(out[i] == (real)gray[i] / (real)255);
    ck_assert_int_eq(ssm_png_read(cpath, out, 3, H, W, SSM_RESIZE_BILINEAR, NULL, NULL, &e), SSM_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < H * W; i++)
            ck_assert(out[c * H * W + i] == (real)rgb[i * 3 + c] / (real)255);
    // gray into 3 channels: replicated
    ck_assert_int_eq(ssm_png_read(gpath, out, 3, H, W, SSM_RESIZE_NEAREST, NULL, NULL, &e), SSM_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < H * W; i++)
            ck_assert(out[c * H * W + i] == (real)gray[i] / (real)255);
    // resized on read: a 2x nearest upscale
    real up[2 * H * 2 * W];
    ck_assert_int_eq(ssm_png_read(gpath, up, 1, 2 * H, 2 * W, SSM_RESIZE_NEAREST, NULL, NULL, &e),
                     SSM_OK);
    for (int y = 0; y < 2 * H; y++)
        for (int x = 0; x < 2 * W; x++)
            ck_assert(up[y * 2 * W + x] == (real)gray[(y / 2) * W + x / 2] / (real)255);

    // corruption: a flipped byte in the image data (chunk CRC), a cut file,
    // not a PNG at all, a missing file
    size_t n;
    uint8_t *bytes = read_whole(cpath, &n);
    uint8_t *mut = malloc(n);
    memcpy(mut, bytes, n);
    mut[n - 20] ^= 0x5a; // inside the IDAT chunk (IEND is the last 12 bytes)
    write_bytes(bpath, mut, n, 0);
    ck_assert_int_eq(ssm_png_read(bpath, out, 3, H, W, SSM_RESIZE_NEAREST, NULL, NULL, &e),
                     SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, bpath) == e.msg && strstr(e.msg, "corrupt PNG"), "%s", e.msg);
    write_bytes(bpath, bytes, n / 2, 0);
    ck_assert_int_eq(ssm_png_read(bpath, out, 3, H, W, SSM_RESIZE_NEAREST, NULL, NULL, &e),
                     SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, bpath) == e.msg, "%s", e.msg);
    write_bytes(bpath, "hello, not a png at all", 23, 0);
    ck_assert_int_eq(ssm_png_read(bpath, out, 3, H, W, SSM_RESIZE_NEAREST, NULL, NULL, &e),
                     SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "not a PNG file"), "%s", e.msg);
    // many seeded flips and cuts: never a crash, error or a valid image
    for (int it = 0; it < 200; it++) {
        memcpy(mut, bytes, n);
        size_t len = n;
        if (it % 2)
            len = (size_t)(tu_uniform(&st) * (double)n);
        else
            mut[(size_t)(tu_uniform(&st) * (double)n)] ^= (uint8_t)(1 + tu_uniform(&st) * 255);
        write_bytes(bpath, mut, len, 0);
        ssm_code rc = ssm_png_read(bpath, out, 3, H, W, SSM_RESIZE_BILINEAR, NULL, NULL, &e);
        if (rc != SSM_OK)
            ck_assert(strstr(e.msg, bpath) == e.msg);
    }
    unlink(bpath);
    ck_assert_int_eq(ssm_png_read(bpath, out, 3, H, W, SSM_RESIZE_NEAREST, NULL, NULL, &e),
                     SSM_ENOTFOUND);
    free(bytes);
    free(mut);
    remove_dir();
}
END_TEST

// ---------------------------------------------------------------- real data

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

START_TEST(real_fashion_mnist_if_installed) {
    if (access(FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("skipped: %s is not installed (Debian package dataset-fashion-mnist)\n", FMNIST_DIR);
        return;
    }
    ssm_image_dataset tr, te;
    ssm_error e = {0};
    ck_assert_msg(ssm_image_dataset_load_idx(&tr, FMNIST_DIR, "train", 10,
                                             SSM_FASHION_MNIST_CLASSES, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_image_dataset_load_idx(&te, FMNIST_DIR, "test", 10,
                                             SSM_FASHION_MNIST_CLASSES, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(tr.n, 60000);
    ck_assert_int_eq(te.n, 10000);
    ck_assert(tr.H == 28 && tr.W == 28 && tr.C == 1);
    ck_assert_str_eq(tr.class_names[9], "Ankle boot");
    int64_t htr[10] = {0}, hte[10] = {0};
    for (int64_t i = 0; i < tr.n; i++)
        htr[tr.labels[i]]++;
    for (int64_t i = 0; i < te.n; i++)
        hte[te.labels[i]]++;
    for (int c = 0; c < 10; c++) {
        ck_assert_int_eq(htr[c], 6000);
        ck_assert_int_eq(hte[c], 1000);
    }
    double mean, sd;
    ck_assert_int_eq(ssm_image_dataset_stats(&tr, NULL, 0, &mean, &sd, &e), SSM_OK);
    printf("fashion-mnist train: mean %.5f std %.5f\n", mean, sd);
    ck_assert_double_eq_tol(mean, SSM_FASHION_MNIST_MEAN, 5e-4);
    ck_assert_double_eq_tol(sd, SSM_FASHION_MNIST_STD, 5e-4);
    ssm_image_dataset_free(&tr);
    ssm_image_dataset_free(&te);
}
END_TEST

int main(void) {
    Suite *s = suite_create("datasets_image");
    TCase *tc = tcase_create("datasets_image");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, idx_loads_gzipped_and_plain);
    tcase_add_test(tc, idx_errors_name_file_and_expectation);
    tcase_add_test(tc, idx_hammer_flips_and_truncations);
    tcase_add_test(tc, png_reads_back_exactly_and_refuses_corruption);
    tcase_add_test(tc, real_fashion_mnist_if_installed);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
