// defines: ssm_augment, ssm_augment_choice, ssm_augment_key, ssm_augment_stream,
//          ssm_augment_choose,
//          ssm_augment_apply, ssm_image_crop_pad, ssm_image_hflip, ssm_image_normalize,
//          ssm_image_resize, ssm_resize_mode, SSM_IMAGE_MAX_C
// Image augmentation and the small image operations it is made of. Every
// random choice is a pure function of (seed, epoch, sample id), through
// ssm_augment_key, so a batch's content never depends on thread timing, on
// whether it was prefetched, or on where a run was resumed.
// Images are channel-first: [C, H, W].
#pragma once
#include <stdint.h>

#include "core/real.h"

#define SSM_IMAGE_MAX_C 4

typedef struct {
    int64_t pad;                  // random crop of HxW from the image zero-padded by `pad` on
                                  // every side (0 = off), as torchvision RandomCrop(padding=pad)
    int hflip;                    // random horizontal flip with probability 1/2 (0 = off)
    double erase_p;               // probability of random erasing (Zhong et al. 2017, as
                                  // torchvision RandomErasing(scale=(0.02, 0.4), ratio=(0.3, 3.3),
                                  // value=0) after normalisation); 0 = off
    int normalize;                // x = (p/255 - mean[c]) / std[c] (0: x = p/255)
    real mean[SSM_IMAGE_MAX_C];   // [C] per-channel mean of p/255
    real std[SSM_IMAGE_MAX_C];    // [C] per-channel standard deviation of p/255
} ssm_augment;

// The random choices for one sample: crop offset in the padded image
// (0..2*pad each), whether to flip, and the erased rectangle (eh = 0: none).
typedef struct {
    int64_t dy, dx;
    int flip;
    int64_t ey, ex, eh, ew;
} ssm_augment_choice;

// The sample's random key: derived from (seed, epoch, sample id) by splitmix64
// (ssm_seed_derive), so independent of the order samples are processed in.
uint64_t ssm_augment_key(uint64_t seed, int64_t epoch, int64_t sample);
// The splitmix64 state that ssm_augment_key(seed, epoch, sample) is the next output of
// (splitmix64: state += 0x9E3779B97F4A7C15, then mix): the state of sample + k is this
// + k * 0x9E3779B97F4A7C15, so a packed batch's key (core/packing.h) gives every sequence
// the key of its own position.
uint64_t ssm_augment_stream(uint64_t seed, int64_t epoch, int64_t sample);
// H, W: the image size (the erased rectangle must fit in it).
ssm_augment_choice ssm_augment_choose(const ssm_augment *a, uint64_t key, int64_t H, int64_t W);

// out [C, H, W] = augment(in [C, H, W] bytes) for the given choice: crop with
// zero padding (padding is black, i.e. pixel 0, before normalisation, as in
// torchvision), then flip, then normalise, then erase (set the rectangle to 0 in every channel).
void ssm_augment_apply(real *out, const uint8_t *in, const ssm_augment *a,
                       ssm_augment_choice ch, int64_t C, int64_t H, int64_t W);

// out[c, y, x] = in[c, y + dy - pad, x + dx - pad], or 0 outside the image.
// out and in are [C, H, W] and must not overlap; pad = 0, dy = dx = 0 is a copy.
void ssm_image_crop_pad(real *out, const real *in, int64_t C, int64_t H, int64_t W, int64_t pad,
                        int64_t dy, int64_t dx);
// out[c, y, x] = in[c, y, W-1-x]; out == in is allowed (in place).
void ssm_image_hflip(real *out, const real *in, int64_t C, int64_t H, int64_t W);
// x[c, i] = (x[c, i] - mean[c]) / std[c] over x [C, HW].
void ssm_image_normalize(real *x, const real *mean, const real *std, int64_t C, int64_t HW);

typedef enum { SSM_RESIZE_NEAREST = 0, SSM_RESIZE_BILINEAR } ssm_resize_mode;
// out [C, Ho, Wo] = in [C, Hi, Wi] resampled with half-pixel centres (the
// convention of PIL, OpenCV and torch align_corners=False); bilinear clamps
// at the borders. Same size is an exact copy.
void ssm_image_resize(real *out, const real *in, int64_t C, int64_t Hi, int64_t Wi, int64_t Ho,
                      int64_t Wo, ssm_resize_mode mode);
