// defines: model_plan_arrays (see model_arrays.h)
#include "tasks/model_arrays.h"

ssm_code model_plan_arrays(ssm_model *m, ssm_arena *a, ssm_error *err) {
    size_t nk = (size_t)m->B_max * m->K * sizeof(real);
    m->out = ssm_arena_take(a, nk);
    m->dout = ssm_arena_take(a, nk);
    m->probs = m->loss.kind == LOSS_CE ? ssm_arena_take(a, nk) : NULL;
    m->losses = ssm_arena_take(a, nk);
    m->dloss = ssm_arena_take(a, (size_t)m->B_max * m->K * sizeof(real));
    return m->device.kind == SSM_DEVICE_CUDA ? ssm_head_plan_cuda(m->head, a, m->B_max, err)
                      : ssm_head_plan(m->head, a, m->B_max, err);
}
