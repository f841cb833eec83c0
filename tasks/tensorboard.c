// defines: the TensorBoard event writer (see tensorboard.h)
#include "tasks/tensorboard.h"

#include <errno.h>
#include <string.h>
#include <sys/time.h>

uint32_t tb_crc32c(const void *data, size_t n) {
    // Bitwise reflected CRC-32C; the records are a few dozen bytes, so a table
    // would buy nothing measurable.
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t masked_crc(const void *data, size_t n) {
    uint32_t c = tb_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

typedef struct {
    uint8_t b[512];
    size_t n;
} buf;

static void put(buf *o, const void *p, size_t n) {
    if (o->n + n <= sizeof o->b)
        memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put_varint(buf *o, uint64_t v) {
    do {
        uint8_t byte = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v)
            byte |= 0x80;
        put(o, &byte, 1);
    } while (v);
}
static void put_le(buf *o, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        put(o, &byte, 1);
    }
}
// key = (field << 3) | wire type
static void put_bytes_field(buf *o, int field, const void *p, size_t n) {
    put_varint(o, (uint64_t)field << 3 | 2);
    put_varint(o, n);
    put(o, p, n);
}

static double now(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

// Event { wall_time = 1 (double), step = 2 (int64), file_version = 3 | summary = 5 }
static ssm_code write_event(tb_writer *w, int64_t step, const buf *payload, int field,
                            ssm_error *err) {
    buf ev = {.n = 0};
    double t = now();
    uint64_t bits;
    memcpy(&bits, &t, 8);
    put_varint(&ev, 1 << 3 | 1);
    put_le(&ev, bits, 8);
    put_varint(&ev, 2 << 3 | 0);
    put_varint(&ev, (uint64_t)step);
    put_bytes_field(&ev, field, payload->b, payload->n);
    if (ev.n > sizeof ev.b)
        return ssm_fail(err, SSM_EINVAL, "%s: TensorBoard record too long", w->path);
    uint8_t head[12];
    uint64_t len = ev.n;
    for (int i = 0; i < 8; i++)
        head[i] = (uint8_t)(len >> (8 * i));
    uint32_t c = masked_crc(head, 8);
    for (int i = 0; i < 4; i++)
        head[8 + i] = (uint8_t)(c >> (8 * i));
    uint8_t tail[4];
    c = masked_crc(ev.b, ev.n);
    for (int i = 0; i < 4; i++)
        tail[i] = (uint8_t)(c >> (8 * i));
    if (fwrite(head, 1, 12, w->f) != 12 || fwrite(ev.b, 1, ev.n, w->f) != ev.n ||
        fwrite(tail, 1, 4, w->f) != 4 || fflush(w->f) != 0)
        return ssm_fail(err, SSM_EIO, "%s: write failed: %s", w->path, strerror(errno));
    return SSM_OK;
}

ssm_code tb_open(tb_writer *w, const char *dir, ssm_error *err) {
    snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.ssmkit", dir, (long long)now());
    w->f = fopen(w->path, "ab");
    if (!w->f)
        return ssm_fail(err, SSM_EIO, "%s: cannot create: %s", w->path, strerror(errno));
    buf v = {.n = 0};
    put(&v, "brain.Event:2", 13);
    return write_event(w, 0, &v, 3, err);
}

ssm_code tb_scalar(tb_writer *w, const char *tag, double value, int64_t step, ssm_error *err) {
    // Summary { value = 1: Value { tag = 1 (string), simple_value = 2 (float) } }
    size_t tag_len = strlen(tag);
    if (tag_len > 256)
        return ssm_fail(err, SSM_EINVAL, "TensorBoard tag too long: %s", tag);
    buf val = {.n = 0}, sum = {.n = 0};
    put_bytes_field(&val, 1, tag, tag_len);
    float f = (float)value;
    uint32_t fb;
    memcpy(&fb, &f, 4);
    put_varint(&val, 2 << 3 | 5);
    put_le(&val, fb, 4);
    put_bytes_field(&sum, 1, val.b, val.n);
    return write_event(w, step, &sum, 5, err);
}

void tb_close(tb_writer *w) {
    if (w->f)
        fclose(w->f);
    w->f = NULL;
}
