// defines: the training step as CUDA graphs (see step_graph.h)
#include "tasks/cuda/step_graph.h"

#include <stdlib.h>
#include <string.h>

#include "core/cuda/try.h"
#include "kernels/cuda/optim.h"
#include "tasks/cuda/model.h"
#include "tasks/train_device.h"

// The settings and pointers a captured step bakes into its launches.
typedef struct {
    int64_t B;
    const void *x, *cls, *values;
    double max_norm, beta1, beta2, eps;
} shape_key;

typedef struct {
    shape_key key;
    int64_t warm;          // eager steps run for this shape (1 before its capture)
    cudaGraphExec_t exec;  // NULL until captured
} shape_entry;

typedef struct {
    shape_entry shapes[STEP_GRAPH_SHAPES];
    int n;
    float *h_consts;  // pinned [6]: this step's AdamW constants (train_cuda_adamw_constants)
    float *d_consts;  // device [6]: what the graph's AdamW launches read
    double *h_back;   // pinned [2]: the loss sum and the gradient norm, after the step
    uint64_t scratch_gen; // ssm_cuda_scratch_generation() the graphs were captured under
    model_graph_stats stats;
} step_graphs;

static int same_key(const shape_key *a, const shape_key *b) {
    return a->B == b->B && a->x == b->x && a->cls == b->cls && a->values == b->values &&
           a->max_norm == b->max_norm && a->beta1 == b->beta1 && a->beta2 == b->beta2 &&
           a->eps == b->eps;
}

static ssm_code cuda_err(ssm_error *err, const char *what, cudaError_t e) {
    cudaGetLastError(); // reported here, not again at the next launch
    return ssm_fail(err, SSM_EDEVICE, "train.cuda_graph: %s: %s (%s)", what, cudaGetErrorName(e),
                    cudaGetErrorString(e));
}

// Made at the first step, outside any capture: the pinned and device buffers of every shape.
static ssm_code graphs_of(ssm_model *m, step_graphs **out, ssm_error *err) {
    if (m->step_graphs) {
        *out = m->step_graphs;
        return SSM_OK;
    }
    step_graphs *g = calloc(1, sizeof *g);
    if (!g)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the CUDA graph table");
    m->step_graphs = g; // freed by model_step_graph_free_cuda, even half made
    cudaError_t e = cudaMallocHost((void **)&g->h_consts, 6 * sizeof(float));
    if (e == cudaSuccess)
        e = cudaMallocHost((void **)&g->h_back, 2 * sizeof(double));
    if (e != cudaSuccess)
        return cuda_err(err, "pinned host memory for the step's constants", e);
    SSM_CUDA_TRY(ssm_cuda_alloc((void **)&g->d_consts, 6 * sizeof(float),
                                "AdamW constants of the captured step"), err);
    *out = g;
    return SSM_OK;
}

static ssm_code copy_back(double *dst_pinned, const double *src_dev) {
    CUDA_CHECK(cudaMemcpyAsync(dst_pinned, src_dev, sizeof(double), cudaMemcpyDeviceToHost,
                               ssm_cuda_stream()));
    return SSM_OK;
}

// The step, queued on the library stream: nothing synchronizes, nothing is allocated (after a
// shape's warm-up), and nothing per step is baked into a launch but what the key holds.
static ssm_code body(ssm_model *m, step_graphs *g, const real *x, const ssm_targets *t,
                     int64_t B, const model_step_opts *o, ssm_error *err) {
    ssm_params *p = &m->dparams;
    const double *norm = NULL;
    SSM_TRY(model_loss_and_grad_queue_cuda(m, x, t, B, err));
    SSM_CUDA_TRY(grad_clip_queue_cuda(&norm, p->grad, (int64_t)p->total, o->max_norm), err);
    SSM_TRY(train_cuda_adamw_dev(p, o->oc, g->d_consts, norm, err));
    SSM_CUDA_TRY(copy_back(&g->h_back[0], m->loss_sum), err);
    SSM_CUDA_TRY(copy_back(&g->h_back[1], norm), err);
    return SSM_OK;
}

// Captures the body for shape s, instantiates it and leaves it in s->exec (not launched).
static ssm_code capture(ssm_model *m, step_graphs *g, shape_entry *s, const real *x,
                        const ssm_targets *t, int64_t B, const model_step_opts *o,
                        ssm_error *err) {
    cudaStream_t st = ssm_cuda_stream();
    cudaError_t e = cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess)
        return cuda_err(err, "cudaStreamBeginCapture on the library stream", e);
    ssm_code rc = body(m, g, x, t, B, o, err);
    cudaGraph_t graph = NULL;
    e = cudaStreamEndCapture(st, &graph); // always: the stream leaves capture mode
    if (rc != SSM_OK || e != cudaSuccess) {
        if (graph)
            cudaGraphDestroy(graph);
        if (rc != SSM_OK) {
            cudaGetLastError();
            ssm_error_prefix(err, "train.cuda_graph: capturing the step of a batch of %lld: ",
                             (long long)B);
            return rc;
        }
        return cuda_err(err, "cudaStreamEndCapture (a call in the step broke the capture; set "
                        "train.cuda_graph: false)", e);
    }
    // AutoFreeOnLaunch: should a library (cuBLAS) allocate inside the capture, the graph frees
    // it before its next launch instead of refusing to launch again.
    e = cudaGraphInstantiate(&s->exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
        s->exec = NULL;
        return cuda_err(err, "cudaGraphInstantiate of the captured step", e);
    }
    return SSM_OK;
}

// The entry of this step's shape (added on first sight), or NULL: a ragged model, or the
// table is full.
static shape_entry *entry_of(step_graphs *g, const ssm_model *m, const shape_key *k) {
    if (m->trunk.ragged)
        return NULL;
    for (int i = 0; i < g->n; i++)
        if (same_key(&g->shapes[i].key, k))
            return &g->shapes[i];
    if (g->n == STEP_GRAPH_SHAPES)
        return NULL;
    shape_entry *s = &g->shapes[g->n++];
    memset(s, 0, sizeof *s);
    s->key = *k;
    return s;
}

ssm_code model_train_step_graph_cuda(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                                     const model_step_opts *o, double *loss, double *gnorm,
                                     ssm_error *err) {
    if (!o || !o->oc || o->t < 1)
        return ssm_fail(err, SSM_EINVAL, "train.cuda_graph: a step needs the optimizer settings "
                        "and a step count >= 1");
    if (B < 1 || B > m->B_max)
        return ssm_fail(err, SSM_EINVAL, "batch of %lld, the model was planned for 1..%lld",
                        (long long)B, (long long)m->B_max);
    step_graphs *g;
    SSM_TRY(graphs_of(m, &g, err));
    const ssm_targets none = {0};
    if (!t)
        t = &none;
    const shape_key k = {.B = B, .x = x, .cls = t->cls, .values = t->values,
                         .max_norm = o->max_norm, .beta1 = o->oc->beta1,
                         .beta2 = o->oc->beta2, .eps = o->oc->eps};
    shape_entry *s = entry_of(g, m, &k);
    if (g->scratch_gen != ssm_cuda_scratch_generation()) {
        // a scratch slot moved (another model or shape grew it): every graph may hold the
        // freed buffer; a shape that has run before is captured again now (its buffers are
        // at least as large as its warm-up left them)
        for (int i = 0; i < g->n; i++)
            if (g->shapes[i].exec) {
                cudaGraphExecDestroy(g->shapes[i].exec);
                g->shapes[i].exec = NULL;
            }
        g->scratch_gen = ssm_cuda_scratch_generation();
    }

    // this step's constants, up before the step reads them (the same stream orders them)
    cudaStream_t st = ssm_cuda_stream();
    train_cuda_adamw_constants(g->h_consts, o->oc, o->lr, o->t);
    cudaError_t e = cudaMemcpyAsync(g->d_consts, g->h_consts, 6 * sizeof(float),
                                    cudaMemcpyHostToDevice, st);
    if (e != cudaSuccess)
        return cuda_err(err, "copying the AdamW constants up", e);
    if (s && !s->exec && s->warm >= 1) {
        SSM_TRY(capture(m, g, s, x, t, B, o, err));
        g->stats.captured++;
    } else if (s && s->exec) {
        g->stats.replayed++;
    }
    if (s && s->exec) {
        e = cudaGraphLaunch(s->exec, st);
        if (e != cudaSuccess)
            return cuda_err(err, "cudaGraphLaunch of the step", e);
    } else {
        SSM_TRY(body(m, g, x, t, B, o, err));
        g->stats.eager++;
        if (s)
            s->warm++;
    }
    // the one synchronization of the step: then the two scalars are on the host
    e = cudaStreamSynchronize(st);
    if (e != cudaSuccess)
        return cuda_err(err, "the step on the GPU", e);
    *gnorm = g->h_back[1];
    return model_loss_from_sum(m, g->h_back[0], B, loss, err);
}

model_graph_stats model_graph_stats_cuda(const ssm_model *m) {
    const step_graphs *g = m->step_graphs;
    return g ? g->stats : (model_graph_stats){0};
}

void model_step_graph_free_cuda(ssm_model *m) {
    step_graphs *g = m->step_graphs;
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        if (g->shapes[i].exec)
            cudaGraphExecDestroy(g->shapes[i].exec);
    if (g->h_consts)
        cudaFreeHost(g->h_consts);
    if (g->h_back)
        cudaFreeHost(g->h_back);
    ssm_cuda_free(g->d_consts);
    free(g);
    m->step_graphs = NULL;
}
