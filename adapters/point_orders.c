// defines: point_order_parse, point_order_build, point_hilbert_key, point_morton_key,
//          point_snake_key (see point_orders.h)
#include "adapters/point_orders.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX ((1u << 21) - 1)

static const char *const snake_axes[6] = {"xyz", "xzy", "yxz", "yzx", "zxy", "zyx"};

ssm_code point_order_parse(const char *adapter, const char *name, point_order *o,
                           ssm_error *err) {
    memset(o, 0, sizeof *o);
    char base[64];
    snprintf(base, sizeof base, "%s", name);
    size_t n = strlen(base);
    const char *suffix = "_reverse";
    if (!strcmp(base, "reverse")) {
        o->reverse = 1;
        snprintf(base, sizeof base, "fps");
    } else if (n > strlen(suffix) && !strcmp(base + n - strlen(suffix), suffix)) {
        o->reverse = 1;
        base[n - strlen(suffix)] = 0;
    }
    if (!strcmp(base, "fps"))
        return SSM_OK;
    if (!strcmp(base, "hilbert") || !strcmp(base, "trans_hilbert")) {
        o->kind = POINT_ORDER_HILBERT;
        o->trans = base[0] == 't';
        return SSM_OK;
    }
    if (!strcmp(base, "z") || !strcmp(base, "trans_z")) {
        o->kind = POINT_ORDER_Z;
        o->trans = base[0] == 't';
        return SSM_OK;
    }
    for (int k = 0; k < 6; k++) {
        char s[16];
        snprintf(s, sizeof s, "snake_%s", snake_axes[k]);
        if (!strcmp(base, s)) {
            o->kind = POINT_ORDER_SNAKE;
            for (int j = 0; j < 3; j++)
                o->axes[j] = snake_axes[k][j] - 'x';
            return SSM_OK;
        }
    }
    return ssm_fail(err, SSM_ECONFIG, "%s: unknown scan order '%s'; known: fps, reverse, hilbert, "
                    "trans_hilbert, z, trans_z, snake_xyz, snake_xzy, snake_yxz, snake_yzx, "
                    "snake_zxy, snake_zyx, and any of them + _reverse", adapter, name);
}

uint64_t point_hilbert_key(uint32_t x, uint32_t y, uint32_t z, int bits) {
    uint32_t X[3] = {x, y, z}, M = 1u << (bits - 1), t;
    for (uint32_t Q = M; Q > 1; Q >>= 1) { // inverse undo
        uint32_t P = Q - 1;
        for (int i = 0; i < 3; i++) {
            if (X[i] & Q) {
                X[0] ^= P;
            } else {
                t = (X[0] ^ X[i]) & P;
                X[0] ^= t;
                X[i] ^= t;
            }
        }
    }
    for (int i = 1; i < 3; i++) // Gray encode
        X[i] ^= X[i - 1];
    t = 0;
    for (uint32_t Q = M; Q > 1; Q >>= 1)
        if (X[2] & Q)
            t ^= Q - 1;
    for (int i = 0; i < 3; i++)
        X[i] ^= t;
    uint64_t key = 0; // the transposed index, most significant bit first
    for (int b = bits - 1; b >= 0; b--)
        for (int i = 0; i < 3; i++)
            key = key << 1 | (X[i] >> b & 1u);
    return key;
}

uint64_t point_morton_key(uint32_t x, uint32_t y, uint32_t z, int bits) {
    uint64_t key = 0;
    for (int b = bits - 1; b >= 0; b--)
        key = key << 3 | (uint64_t)(x >> b & 1u) << 2 | (uint64_t)(y >> b & 1u) << 1 |
              (z >> b & 1u);
    return key;
}

uint64_t point_snake_key(const uint32_t c[3], const uint32_t mx[3], const int axes[3]) {
    uint64_t a = c[axes[0]], b = c[axes[1]], cc = c[axes[2]];
    uint64_t mb = mx[axes[1]], mc = mx[axes[2]];
    uint64_t b2 = a % 2 ? mb - b : b;
    uint64_t row = a * (mb + 1) + b2;
    uint64_t c2 = row % 2 ? mc - cc : cc;
    return a << 42 | b2 << 21 | c2;
}

static int cmp_item(const void *pa, const void *pb) {
    const point_order_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

void point_order_build(int32_t *perm, const point_order *o, const real *centres, int64_t G,
                       int64_t stride, double grid, point_order_item *work) {
    if (o->kind == POINT_ORDER_FPS) {
        for (int64_t g = 0; g < G; g++)
            perm[g] = (int32_t)g;
    } else {
        double lo[3] = {INFINITY, INFINITY, INFINITY};
        for (int64_t g = 0; g < G; g++)
            for (int k = 0; k < 3; k++)
                lo[k] = fmin(lo[k], (double)centres[g * stride + k]);
        uint32_t mx[3] = {0, 0, 0};
        for (int pass = 0; pass < 2; pass++) // pass 0: the largest cells; pass 1: the keys
            for (int64_t g = 0; g < G; g++) {
                uint32_t c[3];
                for (int k = 0; k < 3; k++) {
                    double v = floor(((double)centres[g * stride + k] - lo[k]) / grid);
                    c[k] = !(v > 0) ? 0 : v >= CELL_MAX ? CELL_MAX : (uint32_t)v;
                }
                if (pass == 0) {
                    for (int k = 0; k < 3; k++)
                        mx[k] = c[k] > mx[k] ? c[k] : mx[k];
                    continue;
                }
                uint32_t m = mx[0] > mx[1] ? mx[0] : mx[1];
                m = m > mx[2] ? m : mx[2];
                int bits = 1;
                while (bits < 21 && (m >> bits))
                    bits++;
                uint32_t x = o->trans ? c[1] : c[0], y = o->trans ? c[0] : c[1];
                work[g].index = (int32_t)g;
                work[g].key = o->kind == POINT_ORDER_HILBERT ? point_hilbert_key(x, y, c[2], bits)
                            : o->kind == POINT_ORDER_Z       ? point_morton_key(x, y, c[2], bits)
                                                             : point_snake_key(c, mx, o->axes);
            }
        qsort(work, (size_t)G, sizeof *work, cmp_item);
        for (int64_t g = 0; g < G; g++)
            perm[g] = work[g].index;
    }
    if (o->reverse)
        for (int64_t a = 0, b = G - 1; a < b; a++, b--) {
            int32_t t = perm[a];
            perm[a] = perm[b];
            perm[b] = t;
        }
}
