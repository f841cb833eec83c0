// Check suite: the TensorBoard event writer — CRC-32C against the standard
// check value, and the records decoded field by field as TensorBoard would.
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/tensorboard.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"

START_TEST(crc32c_check_values) {
    // The CRC-32C check value of "123456789" (RFC 3720 / the Castagnoli catalogue)
    ck_assert_uint_eq(tb_crc32c("123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    ck_assert_uint_eq(tb_crc32c(zeros, 32), 0x8A9136AAu); // RFC 3720 B.4: 32 bytes of zeros
}
END_TEST

static uint64_t varint(const uint8_t **p) {
    uint64_t v = 0;
    for (int s = 0;; s += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7F) << s;
        if (!(b & 0x80))
            return v;
    }
}

static uint32_t unmask(uint32_t m) {
    uint32_t r = m - 0xA282EAD8u;
    return (r >> 17) | (r << 15);
}

START_TEST(events_decode_back) {
    char dir[256];
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir, "ssmkit_tb"), 0);
    tb_writer w;
    ssm_error e;
    ck_assert_int_eq(tb_open(&w, dir, &e), SSM_OK);
    ck_assert_int_eq(tb_scalar(&w, "train/loss", 0.25, 7, &e), SSM_OK);
    ck_assert_int_eq(tb_scalar(&w, "val/accuracy", 0.875, 300, &e), SSM_OK);
    char path[1100];
    snprintf(path, sizeof path, "%s", w.path);
    tb_close(&w);
    long n;
    uint8_t *data = (uint8_t *)cf_read_file(path, &n);
    ck_assert_ptr_nonnull(data);
    const uint8_t *p = data, *end = data + n;
    int records = 0;
    const char *tags[] = {NULL, "train/loss", "val/accuracy"};
    float values[] = {0, 0.25f, 0.875f};
    int64_t steps[] = {0, 7, 300};
    while (p < end) {
        uint64_t len;
        memcpy(&len, p, 8);
        uint32_t c;
        memcpy(&c, p + 8, 4);
        ck_assert_uint_eq(unmask(c), tb_crc32c(p, 8));
        const uint8_t *ev = p + 12;
        memcpy(&c, ev + len, 4);
        ck_assert_uint_eq(unmask(c), tb_crc32c(ev, len));
        // Event: wall_time (1, fixed64), step (2, varint), then 3 or 5
        ck_assert_uint_eq(ev[0], 0x09);
        const uint8_t *q = ev + 9;
        ck_assert_uint_eq(*q++, 0x10);
        ck_assert_int_eq((int64_t)varint(&q), steps[records]);
        if (records == 0) {
            ck_assert_uint_eq(*q++, 0x1A);
            uint64_t sl = varint(&q);
            ck_assert(sl == 13 && memcmp(q, "brain.Event:2", 13) == 0);
        } else {
            ck_assert_uint_eq(*q++, 0x2A); // summary
            varint(&q);
            ck_assert_uint_eq(*q++, 0x0A); // value
            varint(&q);
            ck_assert_uint_eq(*q++, 0x0A); // tag
            uint64_t tl = varint(&q);
            ck_assert(tl == strlen(tags[records]) && memcmp(q, tags[records], tl) == 0);
            q += tl;
            ck_assert_uint_eq(*q++, 0x15); // simple_value, fixed32
            float f;
            memcpy(&f, q, 4);
            ck_assert(f == values[records]);
        }
        p = ev + len + 4;
        records++;
    }
    ck_assert_int_eq(records, 3);
    free(data);
    ck_assert_int_eq(tu_rmtree(dir), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tensorboard");
    TCase *tc = tcase_create("tensorboard");
    tcase_add_test(tc, crc32c_check_values);
    tcase_add_test(tc, events_decode_back);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
