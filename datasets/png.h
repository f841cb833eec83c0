// defines: ssm_png_read
// A tiny PNG reader for `ssmkit predict`: one grayscale or colour PNG (any bit
// depth, palette or alpha: libpng's simplified API converts) into a float image
// of the dataset's shape, resized if its size differs.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/augment.h"

// out [C, H, W] = the image at `path` as p/255 in [0, 1] (C = 1: gray, C = 3:
// RGB; colour is converted to gray or gray replicated as needed; alpha is
// composited onto black), resized to H x W with `mode` when the file's size
// differs. Not normalised: apply ssm_image_normalize with the dataset's
// mean/std. A missing, corrupt or non-PNG file is an error naming the file.
// *src_h / *src_w (may be NULL) receive the file's own size.
ssm_code ssm_png_read(const char *path, real *out, int64_t C, int64_t H, int64_t W,
                      ssm_resize_mode mode, int64_t *src_h, int64_t *src_w, ssm_error *err);
