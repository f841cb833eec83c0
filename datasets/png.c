// defines: ssm_png_read (see png.h)
#include "datasets/png.h"

#include <errno.h>
#include <inttypes.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A header may claim up to 2^31 x 2^31 pixels; refuse before allocating.
#define PNG_MAX_PIXELS (1LL << 28)

ssm_code ssm_png_read(const char *path, real *out, int64_t C, int64_t H, int64_t W,
                      ssm_resize_mode mode, int64_t *src_h, int64_t *src_w, ssm_error *err) {
    if (C != 1 && C != 3)
        return ssm_fail(err, SSM_EINVAL, "%s: PNG into %" PRId64 " channels: expected 1 or 3",
                        path, C);
    if (H <= 0 || W <= 0)
        return ssm_fail(err, SSM_EINVAL, "%s: PNG into %" PRId64 "x%" PRId64 ": expected >= 1x1",
                        path, H, W);
    // Open it ourselves first so that a missing file says so plainly.
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssm_fail(err, errno == ENOENT ? SSM_ENOTFOUND : SSM_EIO, "%s: cannot open: %s",
                        path, strerror(errno));
    png_byte sig[8];
    size_t got = fread(sig, 1, sizeof sig, f);
    if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
        fclose(f);
        return ssm_fail(err, SSM_EFORMAT, "%s: not a PNG file (the 8-byte PNG signature is %s)",
                        path, got < sizeof sig ? "cut short" : "wrong");
    }
    rewind(f);

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    // The simplified API catches libpng's longjmp errors and reports them in
    // img.message, so no setjmp is needed here.
    if (!png_image_begin_read_from_stdio(&img, f)) {
        fclose(f);
        return ssm_fail(err, SSM_EFORMAT, "%s: corrupt PNG header: %s", path, img.message);
    }
    int64_t h = img.height, w = img.width;
    if (h * w > PNG_MAX_PIXELS) {
        png_image_free(&img);
        fclose(f);
        return ssm_fail(err, SSM_EFORMAT, "%s: PNG of %" PRId64 "x%" PRId64
                        " pixels: expected at most %lld pixels", path, w, h, PNG_MAX_PIXELS);
    }
    img.format = C == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    uint8_t *buf = malloc((size_t)PNG_IMAGE_SIZE(img));
    real *planar = malloc((size_t)(C * h * w) * sizeof *planar);
    if (!buf || !planar) {
        png_image_free(&img);
        fclose(f);
        free(buf);
        free(planar);
        return ssm_fail(err, SSM_ENOMEM, "%s: cannot allocate a %" PRId64 "x%" PRId64 " image",
                        path, w, h);
    }
    png_color black = {0, 0, 0};
    int ok = png_image_finish_read(&img, &black, buf, 0, NULL);
    fclose(f);
    if (!ok) {
        ssm_fail(err, SSM_EFORMAT, "%s: corrupt PNG data: %s", path, img.message);
        png_image_free(&img);
        free(buf);
        free(planar);
        return SSM_EFORMAT;
    }
    // interleaved HWC bytes -> planar CHW in [0, 1]
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int64_t c = 0; c < C; c++)
                planar[(c * h + y) * w + x] = (real)buf[(y * w + x) * C + c] / (real)255;
    free(buf);
    ssm_image_resize(out, planar, C, h, w, H, W, mode);
    free(planar);
    if (src_h)
        *src_h = h;
    if (src_w)
        *src_w = w;
    return SSM_OK;
}
