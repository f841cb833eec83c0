// defines: the layer rigs (see rig.h)
#include "tests/util/rig.h"

#include <check.h>
#include <string.h>

#include "tasks/head_registry.h"

void tu_plan_adapter(ssm_adapter *a, ssm_arena *ar, int64_t B) {
    ssm_error e = {0};
    ssm_arena_init(ar);
    ck_assert_msg(ssm_adapter_plan(a, ar, B, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_arena_commit(ar, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_adapter_plan(a, ar, B, &e) == SSM_OK, "%s", e.msg);
}

void tu_plan_head(ssm_head *h, ssm_arena *ar, int64_t B) {
    ssm_error e = {0};
    ssm_arena_init(ar);
    ck_assert_msg(ssm_head_plan(h, ar, B, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_arena_commit(ar, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_head_plan(h, ar, B, &e) == SSM_OK, "%s", e.msg);
}

ssm_code tu_rig_make(tu_rig *r, const char *name, const ssm_adapter_options *o,
                     const ssm_input_shape *in, int64_t D, int64_t B_max, ssm_error *e) {
    memset(r, 0, sizeof *r);
    ssm_params_init(&r->p);
    ssm_code rc = ssm_adapter_create(&r->a, name, o, in, D, &r->p, "", e);
    if (rc != SSM_OK) {
        ssm_params_free(&r->p);
        return rc;
    }
    ck_assert_msg(ssm_params_finalize(&r->p, e) == SSM_OK, "%s", e->msg);
    tu_plan_adapter(r->a, &r->ar, B_max);
    return SSM_OK;
}

void tu_rig_free(tu_rig *r) {
    ssm_adapter_free(r->a);
    ssm_arena_free(&r->ar);
    ssm_params_free(&r->p);
}

real *tu_param(const ssm_params *p, const char *name) {
    int64_t i = ssm_params_find(p, name);
    ck_assert_msg(i >= 0, "parameter %s missing", name);
    return ssm_params_data(p, (size_t)i);
}
