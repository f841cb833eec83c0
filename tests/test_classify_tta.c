// Check suite: test-time augmentation of the classify evaluation (tasks/classify_tta.h).
// With hflip the logits must be the mean of the model's logits on the batch and on the
// batch mirrored by hand here (naive index math, not ssm_image_hflip); without it they
// must be the plain logits; non-image inputs are refused. With vote:N (a point-cloud
// model) the logits must be the mean of the model's logits on N copies of the batch, each
// cloud augmented here with its documented key (classify_tta_vote_key), and differ from the
// plain ones; vote on images, vote without a training augmentation and unknown modes
// (vote:0, a typo) are refused naming task.tta.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/pc_augment.h"
#include "tasks/classify_model.h"
#include "tasks/classify_tta.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static void tta_config(ssm_config *c, const char *tta) {
    ssm_config_defaults(c);
    snprintf(c->task.tta, sizeof c->task.tta, "%s", tta);
}

enum { C_ = 2, H_ = 8, W_ = 6, V_ = 4, B_ = 3 };

// A tiny mean-pooled classifier (d_model 8, one layer) of V_ classes for batches of B_, over
// the adapter `adapter` with options o on inputs `in`.
static void build_with(classify_model *m, const char *adapter, const ssm_adapter_options *o,
                       ssm_input_shape in, uint64_t seed) {
    classify_model_spec s;
    memset(&s, 0, sizeof s);
    s.adapter = adapter;
    s.adapter_opt = *o;
    s.input = in;
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = 8;
    s.backbone.n_layers = 1;
    s.backbone.d_state = 4;
    s.num_classes = V_;
    s.mean_pool = 1;
    s.B_max = B_;
    s.seed = seed;
    ssm_error e;
    ck_assert_msg(classify_model_build(m, &s, &e) == SSM_OK, "%s", e.msg);
}

// image patches of 2 x 2, no class token, over [C_, H_, W_]
static void build(classify_model *m) {
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 2;
    o.cls_token = SSM_CLS_NONE;
    build_with(m, "image_patches", &o, (ssm_input_shape){3, {C_, H_, W_}}, 5);
}

START_TEST(hflip_averages_the_logits_of_the_mirror) {
    classify_model m;
    build(&m);
    const int64_t n = C_ * H_ * W_;
    real x[B_ * C_ * H_ * W_], xf[B_ * C_ * H_ * W_];
    uint64_t st = 3;
    tu_fill_uniform(x, (size_t)(B_ * n), -1, 1, &st);
    for (int b = 0; b < B_; b++)
        for (int c = 0; c < C_; c++)
            for (int y = 0; y < H_; y++)
                for (int xx = 0; xx < W_; xx++)
                    xf[((b * C_ + c) * H_ + y) * W_ + xx] = x[((b * C_ + c) * H_ + y) * W_ + W_ - 1 - xx];
    ssm_error e;
    const real *lg;
    real plain[B_ * V_], mirror[B_ * V_];
    ck_assert(model_predict(&m, x, B_, &lg, &e) == SSM_OK);
    memcpy(plain, lg, sizeof plain);
    ck_assert(model_predict(&m, xf, B_, &lg, &e) == SSM_OK);
    memcpy(mirror, lg, sizeof mirror);
    double diff = 0;
    for (int i = 0; i < B_ * V_; i++)
        diff += fabs((double)plain[i] - mirror[i]);
    ck_assert_msg(diff > 1e-4, "the mirror gives the same logits: the test could not fail");

    ssm_input_shape in = {3, {C_, H_, W_}};
    classify_tta t;
    ssm_config cfg;
    tta_config(&cfg, "hflip");
    ck_assert(classify_tta_init(&t, &cfg, &in, B_, V_, &e) == SSM_OK);
    ck_assert(classify_predict_tta(&m, &t, x, B_, &lg, &e) == SSM_OK);
    for (int i = 0; i < B_ * V_; i++)
        ck_assert_msg(fabs((double)lg[i] - 0.5 * ((double)plain[i] + mirror[i])) < 1e-6,
                      "logit %d: %g, want %g", i, (double)lg[i], 0.5 * (plain[i] + mirror[i]));
    classify_tta_free(&t);

    tta_config(&cfg, "none");
    ck_assert(classify_tta_init(&t, &cfg, &in, B_, V_, &e) == SSM_OK); // off: plain logits
    ck_assert(classify_predict_tta(&m, &t, x, B_, &lg, &e) == SSM_OK);
    ck_assert(memcmp(lg, plain, sizeof plain) == 0);
    classify_tta_free(&t);
    classify_model_free(&m);
}
END_TEST

START_TEST(hflip_refuses_non_images) {
    ssm_input_shape series = {2, {96, 7}};
    classify_tta t;
    ssm_error e;
    ssm_config cfg;
    tta_config(&cfg, "hflip");
    ck_assert_int_eq(classify_tta_init(&t, &cfg, &series, 4, 3, &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "task.tta"));
}
END_TEST

enum { NP_ = 64, VOTES_ = 3 };

START_TEST(vote_averages_augmented_copies) {
    classify_model m;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.n_extra = 2;
    snprintf(o.extra[0].key, SSM_ADAPTER_NAME_MAX, "group_size");
    snprintf(o.extra[0].value, SSM_ADAPTER_VALUE_MAX, "8");
    snprintf(o.extra[1].key, SSM_ADAPTER_NAME_MAX, "num_groups");
    snprintf(o.extra[1].value, SSM_ADAPTER_VALUE_MAX, "8");
    build_with(&m, "point_groups", &o, (ssm_input_shape){2, {NP_, 3}}, 6);
    ssm_error e;
    real x[B_ * NP_ * 3], xa[B_ * NP_ * 3];
    uint64_t st = 4;
    tu_fill_uniform(x, B_ * NP_ * 3, -1, 1, &st);
    ssm_config cfg;
    tta_config(&cfg, "vote:3");
    cfg.data.augment.scale_translate = true;
    cfg.data.augment.rotate_up = true;
    pc_augment aug = {.scale_translate = 1, .rotate_up = 1};
    double want[B_ * V_] = {0};
    real plain[B_ * V_];
    const real *lg;
    ck_assert(model_predict(&m, x, B_, &lg, &e) == SSM_OK);
    memcpy(plain, lg, sizeof plain);
    for (int v = 0; v < VOTES_; v++) {
        memcpy(xa, x, sizeof xa);
        for (int b = 0; b < B_; b++)
            pc_augment_apply(xa + b * NP_ * 3, NULL, NP_, 3, &aug, classify_tta_vote_key(v, b));
        ck_assert(model_predict(&m, xa, B_, &lg, &e) == SSM_OK);
        for (int i = 0; i < B_ * V_; i++)
            want[i] += lg[i] / (double)VOTES_;
    }
    ssm_input_shape in = {2, {NP_, 3}};
    classify_tta t;
    ck_assert_msg(classify_tta_init(&t, &cfg, &in, B_, V_, &e) == SSM_OK, "%s", e.msg);
    ck_assert(classify_predict_tta(&m, &t, x, B_, &lg, &e) == SSM_OK);
    double diff = 0;
    for (int i = 0; i < B_ * V_; i++) {
        ck_assert_msg(fabs(lg[i] - want[i]) < 1e-5, "logit %d: %g, want %g", i, (double)lg[i],
                      want[i]);
        diff += fabs((double)lg[i] - plain[i]);
    }
    ck_assert_msg(diff > 1e-4, "the votes give the plain logits: the test could not fail");
    classify_tta_free(&t);
    // refusals: images, no augmentation to vote over, unknown modes
    ssm_input_shape img = {3, {C_, H_, W_}};
    ck_assert_int_eq(classify_tta_init(&t, &cfg, &img, B_, V_, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "task.tta") && strstr(e.msg, "vote:3"));
    cfg.data.augment.scale_translate = cfg.data.augment.rotate_up = false;
    ck_assert_int_eq(classify_tta_init(&t, &cfg, &in, B_, V_, &e), SSM_ECONFIG);
    ck_assert(strstr(e.msg, "scale_translate") && strstr(e.msg, "rotate_up"));
    const char *bad[] = {"vote:0", "vote:", "votes:3", "hflip2"};
    for (int i = 0; i < 4; i++) {
        tta_config(&cfg, bad[i]);
        ck_assert_int_eq(classify_tta_init(&t, &cfg, &in, B_, V_, &e), SSM_ECONFIG);
        ck_assert_msg(strstr(e.msg, bad[i]) && strstr(e.msg, "vote:N"), "%s", e.msg);
        const char *set[1];
        char a[64];
        snprintf(a, sizeof a, "task.tta=%s", bad[i]);
        set[0] = a;
        ssm_config c2;
        ck_assert_int_eq(ssm_config_resolve(&c2, NULL, set, 1, &e), SSM_ECONFIG);
        ck_assert_msg(strstr(e.msg, "task.tta"), "%s", e.msg);
    }
    classify_model_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("classify_tta");
    TCase *tc = tcase_create("tta");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hflip_averages_the_logits_of_the_mirror);
    tcase_add_test(tc, hflip_refuses_non_images);
    tcase_add_test(tc, vote_averages_augmented_copies);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
