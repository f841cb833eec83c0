// defines: predict_reader_images (the predict reader of the image recipes)
// PNG images (gray or colour, any bit depth; datasets/png.h) resized bilinearly to the
// training size [data_channels, data_height, data_width], then standardised per channel
// with data_mean.<c> / data_std.<c> only when the model was trained on standardised
// images (data_normalize; a model trained with data.augment.normalize: false sees p/255,
// as its batches did). Groups of PREDICT_CHUNK images.
#include <stdlib.h>
#include <string.h>

#include "cli/predict.h"
#include "datasets/augment.h"
#include "datasets/png.h"

typedef struct {
    int64_t C, H, W, next;
    int normalize;
    real mean[SSM_IMAGE_MAX_C], std[SSM_IMAGE_MAX_C];
} image_state;

static int im_matches(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_FASHION_MNIST || dc->name == SSM_DATA_MNIST ||
           dc->name == SSM_DATA_IDX;
}

static ssm_code im_open(predict_ctx *c, void **state, predict_plan *plan, ssm_error *err) {
    image_state *s = calloc(1, sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    *state = s;
    SSM_TRY(predict_meta_int(c, "data_channels", &s->C, err));
    SSM_TRY(predict_meta_int(c, "data_height", &s->H, err));
    SSM_TRY(predict_meta_int(c, "data_width", &s->W, err));
    if (s->C < 1 || s->C > SSM_IMAGE_MAX_C)
        return ssm_fail(err, SSM_EFORMAT, "%s: data_channels %lld, expected 1..%d", c->ckpt,
                        (long long)s->C, SSM_IMAGE_MAX_C);
    if (s->H < 1 || s->W < 1 || s->H > 65536 || s->W > 65536) // before n * C * H * W overflows
        return ssm_fail(err, SSM_EFORMAT, "%s: data_height %lld, data_width %lld; expected "
                        "1..65536 each", c->ckpt, (long long)s->H, (long long)s->W);
    SSM_TRY(predict_normalize(c, &s->normalize, err));
    for (int64_t k = 0; s->normalize && k < s->C; k++) {
        char key[64];
        double v;
        snprintf(key, sizeof key, "data_mean.%lld", (long long)k);
        SSM_TRY(predict_meta_double(c, key, &v, err));
        s->mean[k] = (real)v;
        snprintf(key, sizeof key, "data_std.%lld", (long long)k);
        SSM_TRY(predict_meta_double(c, key, &v, err));
        if (!(v > 0))
            return ssm_fail(err, SSM_EFORMAT, "%s: metadata %s = %g, expected > 0", c->ckpt, key,
                            v);
        s->std[k] = (real)v;
    }
    plan->trained = (ssm_input_shape){3, {s->C, s->H, s->W}};
    return SSM_OK;
}

static ssm_code im_next(predict_ctx *c, void *state, predict_group *g, ssm_error *err) {
    image_state *s = state;
    int64_t n = c->n_inputs - s->next < PREDICT_CHUNK ? c->n_inputs - s->next : PREDICT_CHUNK;
    if (n <= 0)
        return SSM_OK;
    int64_t size = s->C * s->H * s->W;
    SSM_TRY(predict_group_alloc(g, n, n * size, err));
    g->shape = (ssm_input_shape){3, {s->C, s->H, s->W}};
    for (int64_t i = 0; i < n; i++) {
        const char *path = c->inputs[s->next + i];
        real *x = g->x + i * size;
        SSM_TRY(ssm_png_read(path, x, s->C, s->H, s->W, SSM_RESIZE_BILINEAR, NULL, NULL, err));
        if (s->normalize)
            ssm_image_normalize(x, s->mean, s->std, s->C, s->H * s->W);
        g->items[i] = (predict_item){.input = path, .start = -1};
    }
    s->next += n;
    g->n = n;
    return SSM_OK;
}

const predict_reader predict_reader_images = {
    .name = "images",
    .inputs = "PNG images",
    .matches = im_matches,
    .open = im_open,
    .next = im_next,
    .close = free,
};
