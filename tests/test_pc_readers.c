// Check suite: the point-cloud file readers (datasets/pc_cloud.h) on fixtures written
// here and on the real files Debian's libcgal-demo ships (skipped with a message when the
// package is absent):
//  - text rows (ModelNet's commas, ShapeNetPart's 7 columns with part labels, .xyz
//    blanks), and their errors naming file:line (a ragged row, a non-number, 4 columns,
//    an empty file)
//  - PLY: ASCII with extra properties and a quad face (fanned into 2 triangles), binary
//    little- and big-endian with mixed types, a truncated binary body, a bad header line,
//    a vertex element without x
//  - OFF: plain, ModelNet's `OFF1046 900 0` header quirk, comments, a polygon; a face
//    index out of range and a file cut short, named by line
//  - area-weighted surface sampling: the share of points per triangle follows the areas,
//    every point lies in its triangle, normals are unit, the sample is a pure function
//    of the key
//  - CGAL: cube.off, sphere.ply (ASCII mesh), oni.ply (binary little-endian with
//    normals), example.ply (mixed properties), sphere_1k.xyz and cube.xyz
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/pc_cloud.h"

#define CGAL_TAR "/usr/share/doc/libcgal-demo/data.tar.gz"

static char tmp[256];

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ssm_pc_readers_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *fixture(const char *name, const void *data, size_t n) {
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

static const char *text_fixture(const char *name, const char *text) {
    return fixture(name, text, strlen(text));
}

static void expect_error(ssm_code rc, const ssm_error *e, const char *a, const char *b) {
    ck_assert_int_ne(rc, SSM_OK);
    ck_assert_msg(strstr(e->msg, a) && (!b || strstr(e->msg, b)), "message '%s' lacks '%s' / '%s'",
                  e->msg, a, b ? b : "");
}

START_TEST(text_rows) {
    pc_cloud c;
    ssm_error e = {0};
    const char *p = text_fixture("a.txt", "0.1,0.2,0.3,0,0,1\n-1,2e-1,3,0,1,0\n\n4,5,6,1,0,0\n");
    ck_assert_int_eq(pc_read_text(&c, p, &e), SSM_OK);
    ck_assert_int_eq(c.n, 3);
    ck_assert_int_eq(c.C, 6);
    ck_assert_ptr_null(c.label);
    ck_assert(fabs(c.p[6] + 1) < 1e-6 && fabs(c.p[7] - 0.2) < 1e-6 && c.p[16] == 0);
    pc_cloud_free(&c);
    p = text_fixture("b.txt", "0 0 0 0 0 1 12.000000\r\n1 1 1 0 1 0 13\n");
    ck_assert_int_eq(pc_read_text(&c, p, &e), SSM_OK);
    ck_assert_int_eq(c.C, 6);
    ck_assert_int_eq(c.label[0], 12);
    ck_assert_int_eq(c.label[1], 13);
    pc_cloud_free(&c);
    p = text_fixture("c.xyz", "1 2 3 \n\t4 5 6\n");
    ck_assert_int_eq(pc_read_points(&c, p, &e), SSM_OK);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(c.C, 3);
    ck_assert(c.p[5] == 6);
    pc_cloud_free(&c);
}
END_TEST

START_TEST(text_errors) {
    pc_cloud c;
    ssm_error e = {0};
    const char *p = text_fixture("r.txt", "1,2,3,0,0,1\n1,2,3,0,0,1\n1,2,3\n");
    expect_error(pc_read_text(&c, p, &e), &e, "r.txt:3:", "expected 6 as on line 1");
    p = text_fixture("n.txt", "1,2,3\n1,abc,3\n");
    expect_error(pc_read_text(&c, p, &e), &e, "n.txt:2:", "'abc'");
    p = text_fixture("f.txt", "1 2 3 4\n");
    expect_error(pc_read_text(&c, p, &e), &e, "f.txt:1:", "4 values");
    p = text_fixture("e.txt", "\n\n");
    expect_error(pc_read_text(&c, p, &e), &e, "e.txt", "no points");
    p = text_fixture("l.txt", "1 2 3 0 0 1 2.5\n");
    expect_error(pc_read_text(&c, p, &e), &e, "l.txt:1:", "part label");
    expect_error(pc_read_points(&c, "/nonexistent/x.txt", &e), &e, "/nonexistent/x.txt", NULL);
    p = text_fixture("x.obj", "v 1 2 3\n");
    expect_error(pc_read_points(&c, p, &e), &e, "x.obj", ".ply");
}
END_TEST

START_TEST(ply_ascii) {
    const char *txt = "ply\nformat ascii 1.0\ncomment hi\nelement vertex 4\n"
                      "property float x\nproperty float y\nproperty float z\n"
                      "property uchar red\nproperty float nx\nproperty float ny\nproperty float nz\n"
                      "element face 1\nproperty list uchar int vertex_indices\nproperty int tag\n"
                      "end_header\n"
                      "0 0 0 255 0 0 1\n1 0 0 3 0 0 1\n1 1 0 4 0 0 1\n0 1 0 5 0 0 1\n4 0 1 2 3 7\n";
    pc_mesh m;
    ssm_error e = {0};
    ck_assert_int_eq(pc_read_ply(&m, text_fixture("q.ply", txt), &e), SSM_OK);
    ck_assert_int_eq(m.nv, 4);
    ck_assert_int_eq(m.nf, 2);
    ck_assert_ptr_nonnull(m.vn);
    ck_assert(m.v[6] == 1 && m.v[7] == 1 && m.vn[5] == 1);
    int64_t want[6] = {0, 1, 2, 0, 2, 3};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(m.f[i], want[i]);
    pc_mesh_free(&m);
    pc_cloud c;
    ck_assert_int_eq(pc_read_points(&c, text_fixture("q2.ply", txt), &e), SSM_OK);
    ck_assert_int_eq(c.C, 6);
    ck_assert_int_eq(c.n, 4);
    pc_cloud_free(&c);
}
END_TEST

static size_t put(unsigned char *b, size_t at, const void *v, size_t n, int big) {
    for (size_t i = 0; i < n; i++)
        b[at + i] = ((const unsigned char *)v)[big ? n - 1 - i : i];
    return at + n;
}

static void ply_binary(int big) {
    const char *hdr_le = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
                         "property double x\nproperty double y\nproperty double z\n"
                         "property short s\nproperty uint id\nelement face 1\n"
                         "property list uchar uint vertex_index\nend_header\n";
    const char *hdr_be = "ply\nformat binary_big_endian 1.0\nelement vertex 3\n"
                         "property float x\nproperty float y\nproperty float z\n"
                         "property short s\nproperty uint id\nelement face 1\n"
                         "property list uchar uint vertex_index\nend_header\n";
    const char *hdr = big ? hdr_be : hdr_le;
    unsigned char buf[1024];
    size_t at = strlen(hdr);
    memcpy(buf, hdr, at);
    for (int v = 0; v < 3; v++) {
        for (int k = 0; k < 3; k++) {
            double d = v * 10 + k + 0.5;
            float f = (float)d;
            at = big ? put(buf, at, &f, 4, 1) : put(buf, at, &d, 8, 0);
        }
        int16_t s = (int16_t)(-v);
        uint32_t id = 1000u + (uint32_t)v;
        at = put(buf, at, &s, 2, big);
        at = put(buf, at, &id, 4, big);
    }
    unsigned char cnt = 3;
    at = put(buf, at, &cnt, 1, big);
    for (uint32_t i = 0; i < 3; i++)
        at = put(buf, at, &i, 4, big);
    pc_mesh m;
    ssm_error e = {0};
    ck_assert_int_eq(pc_read_ply(&m, fixture("b.ply", buf, at), &e), SSM_OK);
    ck_assert_int_eq(m.nv, 3);
    ck_assert_int_eq(m.nf, 1);
    ck_assert_ptr_null(m.vn);
    ck_assert(m.v[7] == 21.5 && m.v[2] == 2.5);
    ck_assert(m.f[0] == 0 && m.f[1] == 1 && m.f[2] == 2);
    pc_mesh_free(&m);
    // cut inside vertex 2
    expect_error(pc_read_ply(&m, fixture("t.ply", buf, strlen(hdr) + 40), &e), &e, "t.ply",
                 "truncated");
    const char *huge = "ply\nformat ascii 1.0\nelement vertex 900000000\nproperty float x\n"
                       "property float y\nproperty float z\nend_header\n0 0 0\n";
    expect_error(pc_read_ply(&m, text_fixture("huge.ply", huge), &e), &e, "huge.ply",
                 "900000000 vertices");
}

START_TEST(ply_binary_le) { ply_binary(0); }
END_TEST

START_TEST(ply_binary_be) { ply_binary(1); }
END_TEST

START_TEST(ply_errors) {
    pc_mesh m;
    ssm_error e = {0};
    const char *p = text_fixture("h.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty "
                                          "quad x\nend_header\n1\n");
    expect_error(pc_read_ply(&m, p, &e), &e, "h.ply:4:", "property");
    p = text_fixture("x.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float y\n"
                              "property float z\nend_header\n1 2\n");
    expect_error(pc_read_ply(&m, p, &e), &e, "x.ply", "no x, y and z");
    p = text_fixture("m.ply", "PLY\n");
    expect_error(pc_read_ply(&m, p, &e), &e, "m.ply:1:", "magic");
    p = text_fixture("a.ply", "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n"
                              "property float y\nproperty float z\nend_header\n1 2 3\n4 five 6\n");
    expect_error(pc_read_ply(&m, p, &e), &e, "a.ply:9:", "vertex 1, property y");
}
END_TEST

START_TEST(off_meshes) {
    pc_mesh m;
    ssm_error e = {0};
    // ModelNet's quirk: counts glued to the keyword; a comment; a quad
    const char *p = text_fixture("q.off", "OFF4 2 0\n# comment\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n"
                                          "3 0 1 2\n4 0 1 2 3 255 0 0\n");
    ck_assert_int_eq(pc_read_off(&m, p, &e), SSM_OK);
    ck_assert_int_eq(m.nv, 4);
    ck_assert_int_eq(m.nf, 3);
    ck_assert(m.f[6] == 0 && m.f[7] == 2 && m.f[8] == 3);
    pc_mesh_free(&m);
    p = text_fixture("p.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n");
    ck_assert_int_eq(pc_read_off(&m, p, &e), SSM_OK);
    ck_assert_int_eq(m.nf, 1);
    pc_mesh_free(&m);
    p = text_fixture("i.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n");
    expect_error(pc_read_off(&m, p, &e), &e, "i.off:6:", "vertex index 3");
    p = text_fixture("s.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n");
    expect_error(pc_read_off(&m, p, &e), &e, "s.off", "vertex 2 of 3");
    p = text_fixture("h.off", "COFF\n3 1 0\n");
    expect_error(pc_read_off(&m, p, &e), &e, "h.off:1:", "OFF");
    // a header claiming more than the file holds is refused before any allocation (the
    // fuzzer's out-of-memory input: 444 million vertices in 30 bytes)
    p = text_fixture("big.off", "OFF444424444 44 0\n0 0 0\n0 ");
    expect_error(pc_read_off(&m, p, &e), &e, "big.off:1:", "444424444 vertices");
    p = text_fixture("bigf.off", "OFF\n3 90000000 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n");
    expect_error(pc_read_off(&m, p, &e), &e, "bigf.off:2:", "90000000 faces");
    p = text_fixture("deg.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4444444444444444444444 0 1 2\n");
    expect_error(pc_read_off(&m, p, &e), &e, "deg.off:6:", "vertex count 3..63");
}
END_TEST

START_TEST(surface_sampling) {
    // T0: area 1 at z = 0; T1: area 3 at z = 1
    double v[] = {0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 3, 0, 1, 0, 2, 1};
    int64_t f[] = {0, 1, 2, 3, 4, 5};
    pc_mesh m = {.nv = 6, .nf = 2, .v = v, .f = f};
    pc_cloud c, c2, c3;
    ssm_error e = {0};
    int64_t n = 20000, top = 0;
    ck_assert_int_eq(pc_mesh_sample(&c, &m, n, 77, "two", &e), SSM_OK);
    ck_assert_int_eq(c.C, 6);
    for (int64_t i = 0; i < n; i++) {
        const real *p = c.p + i * 6;
        int t = p[2] > 0.5;
        top += t;
        ck_assert(fabs(p[2] - t) < 1e-6);
        double sx = t ? 3 : 2, sy = t ? 2 : 1;
        ck_assert(p[0] >= -1e-6 && p[1] >= -1e-6 && p[0] / sx + p[1] / sy <= 1 + 1e-6);
        ck_assert(fabs(fabs(p[5]) - 1) < 1e-6 && fabs(p[3]) < 1e-6);
    }
    ck_assert_msg(fabs((double)top / n - 0.75) < 0.015, "%lld of %lld on the 3x larger triangle",
                  (long long)top, (long long)n);
    ck_assert_int_eq(pc_mesh_sample(&c2, &m, n, 77, "two", &e), SSM_OK);
    ck_assert_int_eq(pc_mesh_sample(&c3, &m, n, 78, "two", &e), SSM_OK);
    ck_assert(!memcmp(c.p, c2.p, (size_t)n * 6 * sizeof *c.p));
    ck_assert(memcmp(c.p, c3.p, (size_t)n * 6 * sizeof *c.p));
    pc_cloud_free(&c);
    pc_cloud_free(&c2);
    pc_cloud_free(&c3);
    double flat[] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
    pc_mesh d = {.nv = 3, .nf = 1, .v = flat, .f = f};
    expect_error(pc_mesh_sample(&c, &d, 10, 1, "line.off", &e), &e, "line.off", "area");
}
END_TEST

// The CGAL demo data (a tarball in the package's doc folder): extract the few files used.
static int cgal(void) {
    if (access(CGAL_TAR, R_OK) != 0) {
        fprintf(stderr, "test_pc_readers: %s absent (apt-get install libcgal-demo): CGAL files "
                        "skipped\n", CGAL_TAR);
        return 0;
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "tar -xzf %s -C '%s' data/meshes/cube.off data/meshes/sphere.ply "
             "data/points_3/oni.ply data/points_3/example.ply data/points_3/sphere_1k.xyz "
             "data/points_3/cube.xyz", CGAL_TAR, tmp);
    ck_assert_int_eq(system(cmd), 0);
    return 1;
}

static const char *cg(const char *rel) {
    static char path[400];
    snprintf(path, sizeof path, "%s/data/%s", tmp, rel);
    return path;
}

START_TEST(cgal_files) {
    if (!cgal())
        return;
    ssm_error e = {0};
    pc_mesh m;
    pc_cloud c, s;
    ck_assert_int_eq(pc_read_off(&m, cg("meshes/cube.off"), &e), SSM_OK);
    ck_assert_int_eq(m.nv, 8);
    ck_assert_int_eq(m.nf, 12);
    ck_assert_int_eq(pc_mesh_sample(&s, &m, 2000, 5, "cube.off", &e), SSM_OK);
    for (int64_t i = 0; i < s.n; i++) { // on the surface of [-1, 1]^3
        double mx = 0;
        for (int k = 0; k < 3; k++)
            mx = fmax(mx, fabs(s.p[i * 6 + k]));
        ck_assert(fabs(mx - 1) < 1e-5);
    }
    pc_cloud_free(&s);
    pc_mesh_free(&m);
    ck_assert_int_eq(pc_read_ply(&m, cg("meshes/sphere.ply"), &e), SSM_OK);
    ck_assert_int_eq(m.nv, 162);
    ck_assert_int_eq(m.nf, 320);
    for (int64_t i = 0; i < m.nv; i++)
        ck_assert(fabs(sqrt(m.v[i * 3] * m.v[i * 3] + m.v[i * 3 + 1] * m.v[i * 3 + 1] +
                            m.v[i * 3 + 2] * m.v[i * 3 + 2]) - 0.5) < 1e-3);
    pc_mesh_free(&m);
    ck_assert_int_eq(pc_read_points(&c, cg("points_3/oni.ply"), &e), SSM_OK); // binary LE
    ck_assert_int_eq(c.n, 1435);
    ck_assert_int_eq(c.C, 6);
    for (int64_t i = 0; i < c.n; i++) {
        const real *q = c.p + i * 6;
        ck_assert(isfinite(q[0]) && fabs(sqrt(q[3] * q[3] + q[4] * q[4] + q[5] * q[5]) - 1) < 1e-3);
    }
    pc_cloud_free(&c);
    ck_assert_int_eq(pc_read_points(&c, cg("points_3/example.ply"), &e), SSM_OK);
    ck_assert_int_eq(c.n, 3);
    ck_assert_int_eq(c.C, 6);
    ck_assert(c.p[5] == 1);
    pc_cloud_free(&c);
    ck_assert_int_eq(pc_read_points(&c, cg("points_3/sphere_1k.xyz"), &e), SSM_OK);
    ck_assert_int_eq(c.C, 6);
    ck_assert(c.n >= 900);
    for (int64_t i = 0; i < c.n; i++) {
        const real *q = c.p + i * 6;
        ck_assert(fabs(sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]) - 1) < 0.05);
    }
    pc_cloud_free(&c);
    ck_assert_int_eq(pc_read_points(&c, cg("points_3/cube.xyz"), &e), SSM_OK);
    ck_assert_int_eq(c.n, 8);
    ck_assert_int_eq(c.C, 3);
    pc_cloud_free(&c);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_readers");
    TCase *tc = tcase_create("readers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, text_rows);
    tcase_add_test(tc, text_errors);
    tcase_add_test(tc, ply_ascii);
    tcase_add_test(tc, ply_binary_le);
    tcase_add_test(tc, ply_binary_be);
    tcase_add_test(tc, ply_errors);
    tcase_add_test(tc, off_meshes);
    tcase_add_test(tc, surface_sampling);
    tcase_add_test(tc, cgal_files);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
