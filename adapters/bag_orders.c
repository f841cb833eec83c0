// defines: the bag_features adapter's host orders (see bag_orders.h)
#include "adapters/bag_orders.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[] = {"identity", "reverse", "sr:R", "shuffle", "coords_snake",
                                    "coords_hilbert"};
#define N_NAMES (sizeof NAMES / sizeof NAMES[0])

void bag_order_list(char *buf, size_t n) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_NAMES && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %s" : "%s", NAMES[i]);
}

ssm_code bag_order_parse(const char *adapter, const char *name, int coords, bag_order *out,
                         ssm_error *err) {
    out->R = 1;
    if (!strcmp(name, "identity")) {
        out->kind = BAG_ORDER_IDENTITY;
    } else if (!strcmp(name, "reverse")) {
        out->kind = BAG_ORDER_REVERSE;
    } else if (!strcmp(name, "shuffle")) {
        out->kind = BAG_ORDER_SHUFFLE;
    } else if (!strncmp(name, "sr:", 3)) {
        char *end;
        errno = 0;
        long long R = strtoll(name + 3, &end, 10);
        if (errno || end == name + 3 || *end || R < 1 || R > INT32_MAX)
            return ssm_fail(err, SSM_ECONFIG, "%s: scan order '%s': expected sr:R with R an "
                            "integer >= 1 (MambaMIL's sequence reordering, e.g. sr:8)", adapter,
                            name);
        out->kind = BAG_ORDER_SR;
        out->R = R;
    } else if (!strcmp(name, "coords_snake") || !strcmp(name, "coords_hilbert")) {
        if (!coords)
            return ssm_fail(err, SSM_ECONFIG, "%s: scan order '%s' reads the patch coordinates: "
                            "set the adapter option coords: true (the input's last 2 values)",
                            adapter, name);
        out->kind = name[7] == 's' ? BAG_ORDER_SNAKE : BAG_ORDER_HILBERT;
    } else {
        char list[160];
        bag_order_list(list, sizeof list);
        return ssm_fail(err, SSM_ECONFIG, "%s: unknown scan order '%s'; known: %s", adapter, name,
                        list);
    }
    return SSM_OK;
}

static inline int64_t coord(real v) { return (int64_t)llrint((double)v); }

void bag_grid_of(bag_grid *g, const real *xy, int64_t n, int64_t row) {
    int64_t x0 = coord(xy[0]), y0 = coord(xy[1]);
    for (int64_t i = 1; i < n; i++) {
        int64_t x = coord(xy[i * row]), y = coord(xy[i * row + 1]);
        x0 = x < x0 ? x : x0;
        y0 = y < y0 ? y : y0;
    }
    uint64_t gx = 0, gy = 0;
    for (int64_t i = 0; i < n; i++) {
        gx = bag_gcd(gx, (uint64_t)(coord(xy[i * row]) - x0));
        gy = bag_gcd(gy, (uint64_t)(coord(xy[i * row + 1]) - y0));
    }
    g->x0 = x0;
    g->y0 = y0;
    g->gx = gx ? (int64_t)gx : 1;
    g->gy = gy ? (int64_t)gy : 1;
    uint64_t cmax = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t cx = (uint64_t)(coord(xy[i * row]) - x0) / (uint64_t)g->gx;
        uint64_t cy = (uint64_t)(coord(xy[i * row + 1]) - y0) / (uint64_t)g->gy;
        cmax = cx > cmax ? cx : cmax;
        cmax = cy > cmax ? cy : cmax;
    }
    int bits = 1;
    while (bits < 32 && (cmax >> bits) != 0)
        bits++;
    g->bits = bits;
}

static int by_key_then_pos(const void *pa, const void *pb) {
    const bag_sort_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

void bag_order_build(int32_t *perm, const bag_order *o, int which, const ssm_packing *pk,
                     int64_t extra, const real *xy, int64_t row, bag_sort_item *work) {
    const int64_t *off = pk->offsets;
    int sorted = o->kind == BAG_ORDER_SHUFFLE || o->kind == BAG_ORDER_SNAKE ||
                 o->kind == BAG_ORDER_HILBERT;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < pk->n; b++) {
        int64_t n = off[b + 1] - off[b], t0 = bag_token_start(off, b, extra), first = t0 + extra;
        if (extra)
            perm[t0] = (int32_t)t0; // the class token, first in every order
        if (!sorted) {
            for (int64_t s = 0; s < n; s++)
                perm[first + s] = (int32_t)(first + bag_order_position(o->kind, o->R, n, s));
            continue;
        }
        bag_sort_item *it = work + off[b]; // the bags' regions of work are disjoint
        bag_grid g;
        if (o->kind != BAG_ORDER_SHUFFLE)
            bag_grid_of(&g, xy + off[b] * row, n, row);
        for (int64_t i = 0; i < n; i++) {
            it[i].pos = i;
            if (o->kind == BAG_ORDER_SHUFFLE) {
                it[i].key = bag_shuffle_key(pk->key, which, b, i);
            } else {
                const real *p = xy + (off[b] + i) * row;
                it[i].key = bag_grid_key(o->kind, &g, coord(p[0]), coord(p[1]));
            }
        }
        qsort(it, (size_t)n, sizeof *it, by_key_then_pos);
        for (int64_t s = 0; s < n; s++)
            perm[first + s] = (int32_t)(first + it[s].pos);
    }
}
