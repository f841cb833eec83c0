// Check suite: the point-cloud scan orders (adapters/point_orders.h).
//  - every order name (and its _reverse) gives a permutation of 0..G-1 on random centres,
//    on centres that share grid cells, and on G = 1
//  - hand-computed small cases: four centres on the corners of a 2 x 2 square in the x-y
//    plane (grid 0.02, one bit per axis) in every order, worked out in the comments;
//    the keys of the 1-bit Hilbert cube (the Gray code) and of 2-bit Morton cells
//  - the Hilbert key visits every cell of a 2^b cube once with consecutive cells face
//    neighbours (b = 1, 2, 3): the curve property; the snake likewise on a 3 x 4 x 2 grid
//  - unknown names are refused with the list of known ones
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/point_orders.h"
#include "tests/util/testutil.h"

static const char *const NAMES[] = {"fps", "reverse", "hilbert", "trans_hilbert", "z", "trans_z",
                                    "snake_xyz", "snake_xzy", "snake_yxz", "snake_yzx",
                                    "snake_zxy", "snake_zyx", "hilbert_reverse",
                                    "snake_zyx_reverse", "trans_z_reverse"};
#define N_NAMES (sizeof NAMES / sizeof NAMES[0])

static void build(int32_t *perm, const char *name, const real *c, int64_t G) {
    point_order o;
    ssm_error e;
    ck_assert_int_eq(point_order_parse("test", name, &o, &e), SSM_OK);
    point_order_item *work = malloc((size_t)G * sizeof *work);
    point_order_build(perm, &o, c, G, 3, POINT_ORDER_GRID, work);
    free(work);
}

static void assert_perm(const int32_t *perm, int64_t G, const char *name) {
    char *seen = calloc((size_t)G, 1);
    for (int64_t i = 0; i < G; i++) {
        ck_assert_msg(perm[i] >= 0 && perm[i] < G && !seen[perm[i]], "%s: not a permutation",
                      name);
        seen[perm[i]] = 1;
    }
    free(seen);
}

START_TEST(every_order_is_a_permutation) {
    uint64_t st = 3;
    int64_t G = 97;
    real c[97 * 3];
    int32_t perm[97];
    for (int rep = 0; rep < 3; rep++) {
        tu_fill_uniform(c, sizeof c / sizeof *c, -1, 1, &st);
        if (rep == 1) // many centres per cell
            for (size_t i = 0; i < sizeof c / sizeof *c; i++)
                c[i] = (real)(c[i] * 0.03);
        for (size_t n = 0; n < N_NAMES; n++) {
            build(perm, NAMES[n], c, G);
            assert_perm(perm, G, NAMES[n]);
        }
    }
    for (size_t n = 0; n < N_NAMES; n++) {
        build(perm, NAMES[n], c, 1);
        ck_assert_int_eq(perm[0], 0);
    }
}
END_TEST

// Centres (token order): t0 = cell (0,0,0), t1 = (1,0,0), t2 = (0,1,0), t3 = (1,1,0)
// (coordinates cell * 0.03, 1.5 grid cells apart, z = 0). One bit per axis.
//   z (key bits x y z):       t0 000=0, t1 100=4, t2 010=2, t3 110=6  -> 0 2 1 3
//   trans_z (x, y swapped):   t0 0, t1 010=2, t2 100=4, t3 6          -> 0 1 2 3
//   hilbert (Skilling, 1 bit: X1 ^= X0, X2 ^= X1, key X0 X1 X2):
//       t0 (0,0,0) -> 000 = 0; t1 (1,0,0) -> (1,1,1) = 7; t2 (0,1,0) -> (0,1,1) = 3;
//       t3 (1,1,0) -> (1,0,0) = 4                                     -> 0 2 3 1
//   trans_hilbert: t1 -> (0,1,0) -> 3; t2 -> (1,0,0) -> 7; t3 -> 4    -> 0 1 3 2
//   snake_xyz: x = 0 layer: y up (t0, t2); x = 1 layer: y down (t3, t1) -> 0 2 3 1
//   snake_yxz: y = 0: x up (t0, t1); y = 1: x down (t3, t2)           -> 0 1 3 2
//   snake_zxy: one z layer; row x = 0 (y up): t0 t2, row x = 1 (y down): t3 t1 -> 0 2 3 1
//   fps: 0 1 2 3; reverse: 3 2 1 0; hilbert_reverse: 1 3 2 0
START_TEST(hand_computed_square) {
    real c[12];
    int cells[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    for (int t = 0; t < 4; t++) {
        c[t * 3] = (real)(cells[t][0] * 0.03);
        c[t * 3 + 1] = (real)(cells[t][1] * 0.03);
        c[t * 3 + 2] = 0;
    }
    const struct { const char *name; int32_t want[4]; } cases[] = {
        {"z", {0, 2, 1, 3}},          {"trans_z", {0, 1, 2, 3}},
        {"hilbert", {0, 2, 3, 1}},    {"trans_hilbert", {0, 1, 3, 2}},
        {"snake_xyz", {0, 2, 3, 1}},  {"snake_yxz", {0, 1, 3, 2}},
        {"snake_zxy", {0, 2, 3, 1}},  {"fps", {0, 1, 2, 3}},
        {"reverse", {3, 2, 1, 0}},    {"hilbert_reverse", {1, 3, 2, 0}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t perm[4];
        build(perm, cases[i].name, c, 4);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(perm[j] == cases[i].want[j], "%s step %d: %d, expected %d",
                          cases[i].name, j, perm[j], cases[i].want[j]);
    }
}
END_TEST

START_TEST(hand_computed_keys) {
    // the 1-bit Hilbert cube is the Gray code: (x,y,z) visited 000 001 011 010 110 111 101 100
    const uint32_t gray[8][3] = {{0, 0, 0}, {0, 0, 1}, {0, 1, 1}, {0, 1, 0},
                                 {1, 1, 0}, {1, 1, 1}, {1, 0, 1}, {1, 0, 0}};
    for (uint64_t i = 0; i < 8; i++)
        ck_assert_uint_eq(point_hilbert_key(gray[i][0], gray[i][1], gray[i][2], 1), i);
    // Morton, 2 bits: x = 2 (10), y = 1 (01), z = 3 (11): bits x1 y1 z1 x0 y0 z0 = 101 011
    ck_assert_uint_eq(point_morton_key(2, 1, 3, 2), 0x2B);
    // snake on mx = (1, 2, 1) with axes x, y, z: cell (1, 0, 0): layer 1 reverses y -> b' = 2;
    // row = 1 * 3 + 2 = 5 (odd) reverses z -> c' = 1: key 1 << 42 | 2 << 21 | 1
    uint32_t c[3] = {1, 0, 0}, mx[3] = {1, 2, 1};
    int axes[3] = {0, 1, 2};
    ck_assert_uint_eq(point_snake_key(c, mx, axes), (1ull << 42) | (2ull << 21) | 1);
}
END_TEST

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
    return x < y ? -1 : x > y;
}

// Visits every cell of a grid in key order; consecutive cells must be face neighbours.
static void check_curve(int kind, int bits, uint32_t nx, uint32_t ny, uint32_t nz) {
    size_t n = (size_t)nx * ny * nz, i = 0;
    uint64_t (*kc)[2] = malloc(n * sizeof *kc);
    uint32_t mx[3] = {nx - 1, ny - 1, nz - 1};
    int axes[3] = {2, 0, 1};
    for (uint32_t x = 0; x < nx; x++)
        for (uint32_t y = 0; y < ny; y++)
            for (uint32_t z = 0; z < nz; z++, i++) {
                uint32_t c[3] = {x, y, z};
                kc[i][0] = kind ? point_snake_key(c, mx, axes) : point_hilbert_key(x, y, z, bits);
                kc[i][1] = (uint64_t)x << 42 | (uint64_t)y << 21 | z;
            }
    qsort(kc, n, sizeof *kc, cmp_u64);
    for (i = 1; i < n; i++) {
        ck_assert(kc[i][0] != kc[i - 1][0]);
        long dist = 0;
        for (int s = 0; s < 3; s++)
            dist += labs((long)((kc[i][1] >> (42 - 21 * s)) & 0x1FFFFF) -
                         (long)((kc[i - 1][1] >> (42 - 21 * s)) & 0x1FFFFF));
        ck_assert_msg(dist == 1, "kind %d: cells %zu and %zu of the curve are %ld apart", kind,
                      i - 1, i, dist);
    }
    free(kc);
}

START_TEST(curves_are_continuous) {
    for (int b = 1; b <= 3; b++)
        check_curve(0, b, 1u << b, 1u << b, 1u << b);
    check_curve(1, 0, 3, 4, 2);
    check_curve(1, 0, 4, 3, 5);
}
END_TEST

START_TEST(unknown_name) {
    point_order o;
    ssm_error e = {0};
    ck_assert_int_eq(point_order_parse("point_groups", "hilbret", &o, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "hilbret") && strstr(e.msg, "trans_hilbert") &&
              strstr(e.msg, "snake_zyx"));
    ck_assert_int_eq(point_order_parse("point_groups", "snake_xxy", &o, &e), SSM_ECONFIG);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_orders");
    TCase *tc = tcase_create("orders");
    tcase_add_test(tc, every_order_is_a_permutation);
    tcase_add_test(tc, hand_computed_square);
    tcase_add_test(tc, hand_computed_keys);
    tcase_add_test(tc, curves_are_continuous);
    tcase_add_test(tc, unknown_name);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
