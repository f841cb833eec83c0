// Check suite: building the Mamba backbone. Init statistics against
// mamba_ssm's, parameter names, shapes and flags, order validation, and the
// arena plan's error path. The math is in test_backbone.c.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/backbone_fixture.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static double softplus_d(double x) { return x > 20 ? x : log1p(exp(x)); }

typedef struct {
    double lo, hi, mean, var;
    size_t n;
} stats;

static stats tensor_stats(const net *nt, const char *name) {
    int64_t i = ssm_params_find(&nt->p, name);
    ck_assert_msg(i >= 0, "%s missing", name);
    const real *x = ssm_params_data(&nt->p, i);
    stats s = {INFINITY, -INFINITY, 0, 0, nt->p.items[i].numel};
    for (size_t j = 0; j < s.n; j++) {
        s.lo = fmin(s.lo, x[j]);
        s.hi = fmax(s.hi, x[j]);
        s.mean += x[j] / s.n;
    }
    for (size_t j = 0; j < s.n; j++)
        s.var += (x[j] - s.mean) * (x[j] - s.mean) / s.n;
    return s;
}

// U(-a, a): inside the bounds, reaching close to them, variance a^2/3.
static void check_uniform(const net *nt, const char *name, double a) {
    stats s = tensor_stats(nt, name);
    ck_assert_msg(s.lo >= -a && s.hi <= a, "%s outside +-%g: [%g, %g]", name, a, s.lo, s.hi);
    double reach = 1 - 20.0 / s.n; // the extreme of n uniforms is within ~a/n of a
    ck_assert_msg(s.lo < -a * reach && s.hi > a * reach, "%s does not fill +-%g: [%g, %g]", name,
                  a, s.lo, s.hi);
    ck_assert_msg(fabs(s.mean) < 5 * a / sqrt(3.0 * s.n), "%s mean %g", name, s.mean);
    ck_assert_msg(fabs(s.var / (a * a / 3) - 1) < 0.1, "%s variance %g, expected %g", name, s.var,
                  a * a / 3);
}


START_TEST(init_matches_mamba_ssm) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 64;
    c.n_layers = 4;
    c.n_branches = 2;
    net nt;
    net_init(&nt, c, 1, 4, 2024);
    const int64_t D = 64, E = 128, N = 16, R = 4; // dt_rank = ceil(64 / 16)
    ck_assert_int_eq(mamba_stack_get_config(nt.s)->dt_rank, R);
    double sum_log = 0, sum_log2 = 0;
    int64_t cnt = 0;
    for (long long i = 0; i < 4; i++) {
        char nm[128];
        snprintf(nm, sizeof nm, "layers.%lld.mixer.in_proj.weight", i);
        check_uniform(&nt, nm, 1 / sqrt((double)D));
        snprintf(nm, sizeof nm, "layers.%lld.mixer.out_proj.weight", i);
        check_uniform(&nt, nm, 1 / sqrt((double)E) / sqrt(4.0)); // rescaled by sqrt(n_layers)
        snprintf(nm, sizeof nm, "layers.%lld.norm.weight", i);
        stats sn = tensor_stats(&nt, nm);
        ck_assert(sn.lo == 1 && sn.hi == 1);
        for (int k = 0; k < 2; k++) {
            const char *sf = k ? "_b" : "";
            snprintf(nm, sizeof nm, "layers.%lld.mixer.x_proj%s.weight", i, sf);
            check_uniform(&nt, nm, 1 / sqrt((double)E));
            snprintf(nm, sizeof nm, "layers.%lld.mixer.dt_proj%s.weight", i, sf);
            check_uniform(&nt, nm, 1 / sqrt((double)R));
            snprintf(nm, sizeof nm, "layers.%lld.mixer.conv1d%s.weight", i, sf);
            check_uniform(&nt, nm, 0.5); // 1/sqrt(d_conv = 4)
            snprintf(nm, sizeof nm, "layers.%lld.mixer.A%s_log", i, sf);
            const real *A = ssm_params_data(&nt.p, ssm_params_find(&nt.p, nm));
            for (int64_t e = 0; e < E; e++)
                for (int64_t s = 0; s < N; s++)
                    ck_assert_msg(A[e * N + s] == (real)log((double)(s + 1)), "%s[%lld,%lld]", nm,
                                  (long long)e, (long long)s);
            snprintf(nm, sizeof nm, "layers.%lld.mixer.D%s", i, sf);
            stats sd = tensor_stats(&nt, nm);
            ck_assert(sd.lo == 1 && sd.hi == 1);
            snprintf(nm, sizeof nm, "layers.%lld.mixer.dt_proj%s.bias", i, sf);
            const real *bias = ssm_params_data(&nt.p, ssm_params_find(&nt.p, nm));
            for (int64_t e = 0; e < E; e++) {
                double dt = softplus_d(bias[e]);
                ck_assert_msg(dt >= 1e-3 * (1 - 1e-4) && dt <= 1e-1 * (1 + 1e-4),
                              "%s[%lld]: softplus = %g outside [dt_min, dt_max]", nm, (long long)e, dt);
                sum_log += log(dt);
                sum_log2 += log(dt) * log(dt);
                cnt++;
            }
        }
    }
    // log dt ~ U(log 1e-3, log 1e-1): mean at the midpoint (sd of the mean
    // W/sqrt(12 n) = 0.04 for n = 1024), sd W/sqrt(12) = 1.33.
    double W = log(100.0), mid = 0.5 * (log(1e-3) + log(1e-1));
    double mean = sum_log / cnt, sd = sqrt(sum_log2 / cnt - mean * mean);
    ck_assert_msg(fabs(mean - mid) < 0.2, "mean log dt %g, expected %g", mean, mid);
    ck_assert_msg(fabs(sd / (W / sqrt(12.0)) - 1) < 0.1, "sd of log dt %g", sd);
    stats sf = tensor_stats(&nt, "norm_f.weight");
    ck_assert(sf.lo == 1 && sf.hi == 1);
    net_free(&nt);
}
END_TEST

START_TEST(conv_bias_and_layernorm_init) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 256;
    c.d_conv = 3;
    c.norm = MAMBA_NORM_LAYER;
    net nt;
    net_init(&nt, c, 1, 4, 5);
    check_uniform(&nt, "layers.0.mixer.conv1d.bias", 1 / sqrt(3.0));
    stats s = tensor_stats(&nt, "layers.0.norm.bias");
    ck_assert(s.lo == 0 && s.hi == 0);
    s = tensor_stats(&nt, "norm_f.bias");
    ck_assert(s.lo == 0 && s.hi == 0);
    net_free(&nt);
}
END_TEST

START_TEST(names_shapes_and_flags) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 24;
    c.d_state = 6;
    c.d_conv = 3;
    c.n_layers = 2;
    c.n_branches = 3;
    c.norm = MAMBA_NORM_LAYER;
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s;
    ssm_error e;
    ck_assert_msg(mamba_stack_declare(&s, &c, &p, "backbone.", &e) == SSM_OK, "%s", e.msg);
    const int64_t D = 24, E = 48, N = 6, R = 2, dc = 3;
    struct {
        const char *name;
        int ndim;
        int64_t shape[3];
        int no_decay;
    } want[] = {
        {"mixer.in_proj.weight", 2, {2 * E, D}, 0},
        {"mixer.out_proj.weight", 2, {D, E}, 0},
        {"norm.weight", 1, {D}, 1},
        {"norm.bias", 1, {D}, 1},
        {"mixer.conv1d%s.weight", 3, {E, 1, dc}, 0},
        {"mixer.conv1d%s.bias", 1, {E}, 1},
        {"mixer.x_proj%s.weight", 2, {R + 2 * N, E}, 0},
        {"mixer.dt_proj%s.weight", 2, {E, R}, 0},
        {"mixer.dt_proj%s.bias", 1, {E}, 1},
        {"mixer.A%s_log", 2, {E, N}, 1},
        {"mixer.D%s", 1, {E}, 1},
    };
    const char *sfx[] = {"", "_b", "_c2"};
    size_t expected = 2; // norm_f.weight, norm_f.bias
    for (int i = 0; i < 2; i++)
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
            int per_branch = strstr(want[w].name, "%s") != NULL;
            for (int k = 0; k < (per_branch ? 3 : 1); k++) {
                char tail[64], name[128];
                snprintf(tail, sizeof tail, want[w].name, sfx[k]);
                snprintf(name, sizeof name, "backbone.layers.%d.%s", i, tail);
                int64_t idx = ssm_params_find(&p, name);
                ck_assert_msg(idx >= 0, "missing %s", name);
                const ssm_param_info *it = &p.items[idx];
                ck_assert_msg(it->ndim == want[w].ndim, "%s ndim %d", name, it->ndim);
                for (int d = 0; d < it->ndim; d++)
                    ck_assert_msg(it->shape[d] == want[w].shape[d], "%s dim %d = %lld", name, d,
                                  (long long)it->shape[d]);
                ck_assert_msg(!!(it->flags & SSM_PARAM_NO_DECAY) == want[w].no_decay,
                              "%s no-decay flag", name);
                expected++;
            }
        }
    ck_assert(ssm_params_find(&p, "backbone.norm_f.weight") >= 0);
    ck_assert(ssm_params_find(&p, "backbone.norm_f.bias") >= 0);
    ck_assert_uint_eq(p.count, expected); // nothing else declared
    mamba_stack_free(s);
    ssm_params_free(&p);
    // Bad configs are refused with a message.
    c.n_branches = MAMBA_MAX_BRANCHES + 1;
    ssm_params_init(&p);
    ck_assert_int_eq(mamba_stack_declare(&s, &c, &p, "", &e), SSM_EINVAL);
    ck_assert(strstr(e.msg, "n_branches") != NULL);
    ssm_params_free(&p);
}
END_TEST

START_TEST(orders_are_validated) {
    const int64_t B = 2, L = 5;
    net a;
    net_init(&a, cfg_small(2, 2), B, L, 1);
    int32_t perm[2 * 2 * 5];
    mamba_order_identity(perm, B, L);
    mamba_order_reverse(perm + B * L, B, L);
    mamba_orders o = {.count = 2, .perm = perm};
    ssm_error e;
    ck_assert_int_eq(mamba_orders_check(a.s, &o, B, &e), SSM_OK);
    ck_assert_int_eq(mamba_orders_check(a.s, &o, 3, &e), SSM_EINVAL); // B > B_max
    perm[B * L + L + 2] = 0; // order 1, sample 1 = {4, 3, 0, 1, 0}: 0 read again at step 4
    ck_assert_int_eq(mamba_orders_check(a.s, &o, B, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "order 1, sample 1, step 4") != NULL, "%s", e.msg);
    perm[B * L + L + 2] = 7; // out of range
    ck_assert_int_eq(mamba_orders_check(a.s, &o, B, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "step 2") && strstr(e.msg, "out of range"), "%s", e.msg);
    mamba_order_reverse(perm + B * L, B, L);
    o.count = 1; // two branches, one order, no schedule
    ck_assert_int_eq(mamba_orders_check(a.s, &o, B, &e), SSM_EINVAL);
    int32_t sched[4] = {0, 0, 1, 0};
    o.schedule = sched;
    ck_assert_int_eq(mamba_orders_check(a.s, &o, B, &e), SSM_EINVAL); // index 1 >= count 1
    sched[2] = 0;
    ck_assert_int_eq(mamba_orders_check(a.s, &o, B, &e), SSM_OK);
    net_free(&a);
}
END_TEST

START_TEST(arena_too_small_is_an_error) {
    mamba_config c = cfg_small(1, 1);
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s;
    ssm_error e;
    ck_assert(mamba_stack_declare(&s, &c, &p, "", &e) == SSM_OK);
    ssm_arena a;
    ssm_arena_init(&a);
    ck_assert(mamba_stack_plan(s, &a, 2, 8, &e) == SSM_OK);
    ck_assert(ssm_arena_commit(&a, &e) == SSM_OK);
    ck_assert_int_eq(mamba_stack_plan(s, &a, 2, 16, &e), SSM_ENOMEM); // longer than measured
    ssm_arena_free(&a);
    mamba_stack_free(s);
    ssm_params_free(&p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backbone_setup");
    TCase *tc = tcase_create("backbone_setup");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_matches_mamba_ssm);
    tcase_add_test(tc, conv_bias_and_layernorm_init);
    tcase_add_test(tc, names_shapes_and_flags);
    tcase_add_test(tc, orders_are_validated);
    tcase_add_test(tc, arena_too_small_is_an_error);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
