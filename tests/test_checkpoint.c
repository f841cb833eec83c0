// Check suite: safetensors checkpoints (core/checkpoint.h). Round trips are
// bitwise; the file layout is checked against the safetensors spec by reading
// the bytes here; hand-made bad files and a seeded corruption hammer check the
// reader refuses (never crashes, never half-loads); atomic saves keep the old file.
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/ckpt_header.h"
#include "core/rng.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#include "tests/checkpoint_fixture.h"


START_TEST(round_trip_bitwise_with_metadata) {
    ssm_params a, b;
    make_params(&a, 0, 0, 11);
    make_params(&b, 0, 0, 0);
    ssm_rng rng;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_rng_init(&rng, 99, &e), SSM_OK);
    for (int i = 0; i < 5; i++)
        ssm_rng_uniform(&rng);
    ssm_metadata meta, got;
    fill_meta(&meta, &rng);
    char path[512];
    path_in(path, sizeof path, "last.safetensors");
    ck_assert_msg(ssm_checkpoint_save(path, &a, 0, &meta, &e) == SSM_OK, "%s", e.msg);
    ssm_metadata_init(&got);
    ck_assert_msg(ssm_checkpoint_load(path, &b, 0, &got, &e) == SSM_OK, "%s", e.msg);
    ck_assert(tensors_equal(&a, a.data, &b, b.data));
    // Moments were neither saved nor touched.
    for (size_t i = 0; i < b.total; i++)
        ck_assert(b.m[i] == 0 && b.v[i] == 0);
    ck_assert_str_eq(ssm_metadata_get(&got, SSM_META_FORMAT), "pt");
    ck_assert_str_eq(ssm_metadata_get(&got, SSM_META_CONFIG), config_yaml);
    ck_assert_str_eq(ssm_metadata_get(&got, "note"), "tab\there, quote \" and ü \x01");
    int64_t step;
    double best;
    ck_assert_int_eq(ssm_metadata_get_int(&got, SSM_META_STEP, &step, &e), SSM_OK);
    ck_assert(step == 12345678901LL);
    ck_assert_int_eq(ssm_metadata_get_double(&got, SSM_META_BEST_METRIC, &best, &e), SSM_OK);
    ck_assert(best == 0.9137);
    // The RNG restored from the metadata continues the same stream.
    ssm_rng r2;
    ck_assert_int_eq(ssm_rng_init(&r2, 1, &e), SSM_OK);
    size_t n = ssm_rng_state_size(&rng);
    unsigned char *buf = malloc(n);
    ck_assert_int_eq(ssm_metadata_get_hex(&got, "example_rng", buf, n, &e), SSM_OK);
    ssm_rng_load(&r2, buf);
    for (int i = 0; i < 10; i++)
        ck_assert(ssm_rng_uniform(&rng) == ssm_rng_uniform(&r2));
    ck_assert_int_eq(ssm_metadata_get_hex(&got, "example_rng", buf, n + 1, &e), SSM_EFORMAT);
    ck_assert_int_eq(ssm_metadata_get_int(&got, "nope", &step, &e), SSM_ENOTFOUND);
    free(buf);
    ssm_rng_free(&rng);
    ssm_rng_free(&r2);
    ssm_metadata_free(&meta);
    ssm_metadata_free(&got);
    ssm_params_free(&a);
    ssm_params_free(&b);
}
END_TEST

START_TEST(round_trip_with_optimizer_moments) {
    ssm_params a, b;
    make_params(&a, 0, 0, 21);
    make_params(&b, 0, 0, 0);
    ssm_error e = {0};
    char path[512], plain[512];
    path_in(path, sizeof path, "with_optim.safetensors");
    path_in(plain, sizeof plain, "plain.safetensors");
    ck_assert_msg(ssm_checkpoint_save(path, &a, SSM_CKPT_OPTIMIZER, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_checkpoint_load(path, &b, SSM_CKPT_OPTIMIZER, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert(tensors_equal(&a, a.data, &b, b.data));
    ck_assert(tensors_equal(&a, a.m, &b, b.m));
    ck_assert(tensors_equal(&a, a.v, &b, b.v));
    // The moments are tensors named with the documented prefixes.
    ssm_ckpt_info info;
    ck_assert_int_eq(ssm_checkpoint_inspect(path, &info, &e), SSM_OK);
    ck_assert_uint_eq(info.count, 9);
    ck_assert_str_eq(info.tensors[3].name, "optim.m.layers.0.mixer.in_proj.weight");
    ck_assert_str_eq(info.tensors[8].name, "optim.v.norm_f.weight");
    ssm_ckpt_info_free(&info);
    // A file with moments loads without asking for them; a file without them
    // is refused when they are asked for, naming the first missing tensor.
    ssm_params c;
    make_params(&c, 0, 0, 0);
    ck_assert_int_eq(ssm_checkpoint_load(path, &c, 0, NULL, &e), SSM_OK);
    ck_assert(tensors_equal(&a, a.data, &c, c.data));
    ck_assert_int_eq(ssm_checkpoint_save(plain, &a, 0, NULL, &e), SSM_OK);
    ck_assert_int_eq(ssm_checkpoint_load(plain, &c, SSM_CKPT_OPTIMIZER, NULL, &e), SSM_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "optim.m.layers.0.mixer.in_proj.weight") && strstr(e.msg, plain), "%s",
                  e.msg);
    ssm_params_free(&a);
    ssm_params_free(&b);
    ssm_params_free(&c);
}
END_TEST

// The bytes follow the safetensors spec, read here independently of the library.
START_TEST(file_layout_matches_the_spec) {
    ssm_params a;
    make_params(&a, 0, 0, 5);
    ssm_error e = {0};
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    ck_assert_int_eq(ssm_metadata_set(&meta, "step", "7", &e), SSM_OK);
    char path[512];
    path_in(path, sizeof path, "layout.safetensors");
    ck_assert_int_eq(ssm_checkpoint_save(path, &a, 0, &meta, &e), SSM_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    ck_assert_uint_eq((8 + n) % 8, 0);
    // 6*4 + 3*2 + 4 floats of 4 bytes
    ck_assert_uint_eq(len, 8 + n + (24 + 6 + 4) * 4);
    char *h = calloc(n + 1, 1);
    memcpy(h, b + 8, n);
    ck_assert_msg(strstr(h, "{\"__metadata__\":{\"format\":\"pt\",\"step\":\"7\"}") == h, "%s", h);
    ck_assert(strstr(h, "\"layers.0.mixer.in_proj.weight\":{\"dtype\":\"F32\",\"shape\":[6,4],"
                        "\"data_offsets\":[0,96]}"));
    ck_assert(strstr(h, "\"layers.0.mixer.A_log\":{\"dtype\":\"F32\",\"shape\":[3,2],"
                        "\"data_offsets\":[96,120]}"));
    ck_assert(strstr(h, "\"norm_f.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[120,136]}"));
    ck_assert(!memcmp(b + 8 + n + 96, a.data + a.items[1].offset, 24));
    ck_assert(!memcmp(b + 8 + n + 120, a.data + a.items[2].offset, 16));
    free(h);
    free(b);
    ssm_metadata_free(&meta);
    ssm_params_free(&a);
}
END_TEST

START_TEST(mismatches_refused_naming_the_tensor) {
    ssm_params a, wrong, more, fewer_src, fewer;
    make_params(&a, 0, 0, 3);
    ssm_error e = {0};
    char path[512];
    path_in(path, sizeof path, "m.safetensors");
    ck_assert_int_eq(ssm_checkpoint_save(path, &a, 0, NULL, &e), SSM_OK);

    make_params(&wrong, 0, 1, 8);
    real *before = malloc(wrong.total * sizeof(real));
    memcpy(before, wrong.data, wrong.total * sizeof(real));
    ck_assert_int_eq(ssm_checkpoint_load(path, &wrong, 0, NULL, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "layers.0.mixer.in_proj.weight") && strstr(e.msg, "[6, 4]") &&
                  strstr(e.msg, "[6, 5]") && strstr(e.msg, path), "%s", e.msg);
    ck_assert(!memcmp(before, wrong.data, wrong.total * sizeof(real)));

    make_params(&more, 1, 0, 0);
    ck_assert_int_eq(ssm_checkpoint_load(path, &more, 0, NULL, &e), SSM_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "head.bias") && strstr(e.msg, "missing"), "%s", e.msg);

    make_params(&fewer_src, 1, 0, 4);
    ck_assert_int_eq(ssm_checkpoint_save(path, &fewer_src, 0, NULL, &e), SSM_OK);
    make_params(&fewer, 0, 0, 0);
    ck_assert_int_eq(ssm_checkpoint_load(path, &fewer, 0, NULL, &e), SSM_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, "head.bias") && strstr(e.msg, "not in the model"), "%s", e.msg);

    char missing[512];
    path_in(missing, sizeof missing, "absent.safetensors");
    ck_assert_int_eq(ssm_checkpoint_load(missing, &a, 0, NULL, &e), SSM_EIO);
    ck_assert(strstr(e.msg, missing));
    free(before);
    ssm_params_free(&a);
    ssm_params_free(&wrong);
    ssm_params_free(&more);
    ssm_params_free(&fewer_src);
    ssm_params_free(&fewer);
}
END_TEST

// A safetensors file from a header text and data bytes.
static void write_st(const char *path, const char *header, const void *data, size_t dlen) {
    size_t n = strlen(header);
    unsigned char *b = malloc(8 + n + dlen + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    if (dlen)
        memcpy(b + 8 + n, data, dlen);
    tu_write_file(path, b, 8 + n + dlen);
    free(b);
}

START_TEST(half_precision_tensors_convert) {
    // BF16 1.0, -2.5 ; F16 1.0, 0.5, 2^-24 (smallest subnormal), -65504 (largest)
    uint16_t bf[2] = {0x3F80, 0xC020}, hf[4] = {0x3C00, 0x3800, 0x0001, 0xFBFF};
    unsigned char data[12];
    memcpy(data, bf, 4);
    memcpy(data + 4, hf, 8);
    char path[512];
    path_in(path, sizeof path, "half.safetensors");
    write_st(path, "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[4,12]}}", data, 12);
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    size_t ia, ib;
    ck_assert_int_eq(ssm_params_add(&p, "a", 1, (int64_t[]){2}, 0, &ia, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_add(&p, "b", 2, (int64_t[]){2, 2}, 0, &ib, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_msg(ssm_checkpoint_load(path, &p, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    real *a = ssm_params_data(&p, ia), *b = ssm_params_data(&p, ib);
    ck_assert(a[0] == 1.0f && a[1] == -2.5f);
    ck_assert(b[0] == 1.0f && b[1] == 0.5f && b[2] == 0x1p-24f && b[3] == -65504.0f);
    ssm_params_free(&p);
}
END_TEST

typedef struct {
    const char *name, *header, *needle;
    size_t dlen;
} bad_header;

static const bad_header bad_headers[] = {
    {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "overlap", 12},
    {"hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", "belong to no tensor", 12},
    {"trailing data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
     "belong to no tensor", 8},
    {"size vs shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12", 8},
    {"past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "outside", 8},
    {"begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", "outside", 8},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype", 4},
    {"duplicate tensor", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "twice", 8},
    {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "no data_offsets", 4},
    {"unknown key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
     "unknown key", 4},
    {"number metadata", "{\"__metadata__\":{\"step\":7}}", "strings to strings", 0},
    {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "dimension", 4},
    {"float offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", "fraction", 4},
    {"huge dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}",
     "too large", 4},
    {"overflowing shape", "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
                          "\"data_offsets\":[0,8]}}", "overflows", 8},
    {"garbage after", "{} x", "after the header", 0},
    {"not an object", "[1,2]", "JSON object", 0},
    {"unterminated", "{\"a", "unterminated", 0},
    {"NUL escape", "{\"a\\u0000b\":{}}", "u0000", 0},
    {"bad surrogate", "{\"__metadata__\":{\"k\":\"\\ud800x\"}}", "surrogate", 0},
    {"nine dims", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
     "8 dimensions", 4},
};

START_TEST(bad_headers_refused) {
    const bad_header *bh = &bad_headers[_i];
    char path[512];
    path_in(path, sizeof path, "bad.safetensors");
    unsigned char zeros[64] = {0};
    write_st(path, bh->header, zeros, bh->dlen);
    ssm_ckpt_info info;
    ssm_error e = {0};
    ssm_code rc = ssm_checkpoint_inspect(path, &info, &e);
    ck_assert_msg(rc == SSM_EFORMAT, "%s: rc %d (%s)", bh->name, rc, e.msg);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, bh->needle), "%s: '%s'", bh->name, e.msg);
    ck_assert_ptr_null(info.tensors);
}
END_TEST

START_TEST(bad_files_refused) {
    char path[512];
    path_in(path, sizeof path, "short.safetensors");
    ssm_ckpt_info info;
    ssm_error e = {0};
    tu_write_file(path, "\x10\0\0", 3);
    ck_assert_int_eq(ssm_checkpoint_inspect(path, &info, &e), SSM_EFORMAT);
    ck_assert(strstr(e.msg, "too short"));
    // A header length larger than the file (a truncated download).
    unsigned char b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    tu_write_file(path, b, 10);
    ck_assert_int_eq(ssm_checkpoint_inspect(path, &info, &e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "header length 65535") && strstr(e.msg, path), "%s", e.msg);
    // A directory is not a checkpoint.
    ck_assert_int_eq(ssm_checkpoint_inspect(tmpdir, &info, &e), SSM_EIO);
    // Non-finite values are refused and the parameters stay as they were.
    float nan_data[2] = {1.0f, 0.0f};
    uint32_t bits = 0x7FC00000u;
    memcpy(&nan_data[1], &bits, 4);
    write_st(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", nan_data, 8);
    ssm_params p;
    ssm_params_init(&p);
    ck_assert_int_eq(ssm_params_add(&p, "a", 1, (int64_t[]){2}, 0, NULL, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    p.data[0] = 5;
    ck_assert_int_eq(ssm_checkpoint_load(path, &p, 0, NULL, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "'a'") && strstr(e.msg, "element 1"), "%s", e.msg);
    ck_assert(p.data[0] == 5);
    // An integer tensor where the model has floats.
    write_st(path, "{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", nan_data, 8);
    ck_assert_int_eq(ssm_checkpoint_load(path, &p, 0, NULL, &e), SSM_EFORMAT);
    ck_assert(strstr(e.msg, "I32"));
    ssm_params_free(&p);
}
END_TEST

// Seeded corruption: flipped bytes (mostly in the header, where they matter),
// truncations, changed digits and a changed length field. The reader must
// return OK or an error naming the file, never crash (this suite also runs
// under ASan + UBSan), and leave the parameters unchanged when it refuses.
START_TEST(corruption_hammer) {
    ssm_params a, b;
    make_params(&a, 0, 0, 17);
    make_params(&b, 0, 0, 23);
    ssm_error e = {0};
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    ck_assert_int_eq(ssm_metadata_set(&meta, "config", "a: 1\nb: [x, y]\n", &e), SSM_OK);
    ck_assert_int_eq(ssm_metadata_set(&meta, "step", "42", &e), SSM_OK);
    char good[512], bad[512];
    path_in(good, sizeof good, "good.safetensors");
    path_in(bad, sizeof bad, "corrupt.safetensors");
    ck_assert_int_eq(ssm_checkpoint_save(good, &a, SSM_CKPT_OPTIMIZER, &meta, &e), SSM_OK);
    size_t len;
    unsigned char *orig = slurp(good, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | orig[i];
    unsigned char *buf = malloc(len);
    real *snap[3];
    for (int g = 0; g < 3; g++)
        snap[g] = malloc(b.total * sizeof(real));
    uint64_t st = 0x5eed1234;
    int ok = 0, refused = 0;
    for (int it = 0; it < 400; it++) {
        memcpy(buf, orig, len);
        size_t blen = len;
        int kind = (int)(tu_uniform(&st) * 5);
        size_t pos = 8 + (size_t)(tu_uniform(&st) * (double)hlen);
        if (kind == 0) { // random bytes in the header
            int k = 1 + (int)(tu_uniform(&st) * 3);
            for (int j = 0; j < k; j++)
                buf[8 + (size_t)(tu_uniform(&st) * (double)hlen)] = (unsigned char)(tu_uniform(&st) * 256);
        } else if (kind == 1) { // truncation anywhere
            blen = (size_t)(tu_uniform(&st) * (double)len);
        } else if (kind == 2) { // a digit changed: structurally valid JSON, wrong numbers
            for (size_t q = pos; q < 8 + hlen; q++)
                if (buf[q] >= '0' && buf[q] <= '9') {
                    buf[q] = (unsigned char)('0' + (int)(tu_uniform(&st) * 10));
                    break;
                }
        } else if (kind == 3) { // the length field
            buf[(size_t)(tu_uniform(&st) * 8)] ^= (unsigned char)(1u << (int)(tu_uniform(&st) * 8));
        } else { // a bit flip anywhere (data too)
            size_t q = (size_t)(tu_uniform(&st) * (double)len);
            buf[q] ^= (unsigned char)(1u << (int)(tu_uniform(&st) * 8));
        }
        tu_write_file(bad, buf, blen);
        ssm_ckpt_info info;
        ssm_code rc = ssm_checkpoint_inspect(bad, &info, &e);
        if (rc == SSM_OK) {
            ck_assert_uint_le(info.header_len, blen - 8);
            ssm_ckpt_info_free(&info);
        } else {
            ck_assert_msg(strstr(e.msg, bad) != NULL, "variant %d: '%s'", it, e.msg);
        }
        real *cur[3] = {b.data, b.m, b.v};
        for (int g = 0; g < 3; g++)
            memcpy(snap[g], cur[g], b.total * sizeof(real));
        ssm_metadata got;
        ssm_metadata_init(&got);
        rc = ssm_checkpoint_load(bad, &b, SSM_CKPT_OPTIMIZER, &got, &e);
        if (rc == SSM_OK) {
            ok++;
            for (size_t i = 0; i < b.total; i++)
                ck_assert(isfinite(b.data[i]) && isfinite(b.m[i]) && isfinite(b.v[i]));
        } else {
            refused++;
            ck_assert_msg(strstr(e.msg, bad) != NULL, "variant %d: '%s'", it, e.msg);
            for (int g = 0; g < 3; g++)
                ck_assert_msg(!memcmp(snap[g], cur[g], b.total * sizeof(real)),
                              "variant %d: refused but changed the parameters", it);
        }
        ssm_metadata_free(&got);
    }
    // Both outcomes happen (a hammer that only ever refuses tests little).
    fprintf(stderr, "corruption hammer: %d variants loaded, %d refused\n", ok, refused);
    ck_assert_int_gt(ok, 10);
    ck_assert_int_gt(refused, 100);
    for (int g = 0; g < 3; g++)
        free(snap[g]);
    free(buf);
    free(orig);
    ssm_metadata_free(&meta);
    ssm_params_free(&a);
    ssm_params_free(&b);
}
END_TEST

START_TEST(inspect_lists_tensors_and_metadata) {
    ssm_params a;
    make_params(&a, 0, 0, 9);
    ssm_error e = {0};
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    ck_assert_int_eq(ssm_metadata_set(&meta, SSM_META_CONFIG, "data:\n  name: mnist\n", &e), SSM_OK);
    char path[512];
    path_in(path, sizeof path, "info.safetensors");
    ck_assert_int_eq(ssm_checkpoint_save(path, &a, 0, &meta, &e), SSM_OK);
    ssm_ckpt_info info;
    ck_assert_int_eq(ssm_checkpoint_inspect(path, &info, &e), SSM_OK);
    ck_assert_uint_eq(info.count, 3);
    ck_assert_str_eq(info.tensors[1].name, "layers.0.mixer.A_log");
    ck_assert_str_eq(info.tensors[1].dtype, "F32");
    ck_assert_int_eq(info.tensors[1].ndim, 2);
    ck_assert_int_eq(info.tensors[1].shape[0], 3);
    ck_assert_uint_eq(info.tensors[1].numel, 6);
    char *out = NULL;
    size_t olen = 0;
    FILE *m = open_memstream(&out, &olen);
    ssm_ckpt_info_print(m, &info, 40);
    fclose(m);
    ck_assert_msg(strstr(out, "layers.0.mixer.A_log") && strstr(out, "[3, 2]") &&
                  strstr(out, "config: data: ... (20 bytes)") && strstr(out, "format: pt"), "%s", out);
    free(out);
    ssm_ckpt_info_free(&info);
    ssm_metadata_free(&meta);
    ssm_params_free(&a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip_bitwise_with_metadata);
    tcase_add_test(tc, round_trip_with_optimizer_moments);
    tcase_add_test(tc, file_layout_matches_the_spec);
    tcase_add_test(tc, mismatches_refused_naming_the_tensor);
    tcase_add_test(tc, half_precision_tensors_convert);
    tcase_add_loop_test(tc, bad_headers_refused, 0, (int)(sizeof bad_headers / sizeof bad_headers[0]));
    tcase_add_test(tc, bad_files_refused);
    tcase_add_test(tc, corruption_hammer);
    tcase_add_test(tc, inspect_lists_tensors_and_metadata);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
