// defines: point_order_parse, point_order_build (see point_orders.h)
#include "adapters/point_orders.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
                    c[k] = !(v > 0) ? 0 : v >= POINT_CELL_MAX ? POINT_CELL_MAX : (uint32_t)v;
                }
                if (pass == 0) {
                    for (int k = 0; k < 3; k++)
                        mx[k] = c[k] > mx[k] ? c[k] : mx[k];
                    continue;
                }
                work[g].index = (int32_t)g;
                work[g].key = point_order_key(o->kind, o->trans, o->axes, c, mx);
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
