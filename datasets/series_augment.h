// defines: series_aug, series_aug_choice, series_aug_choose, series_aug_apply, series_znorm,
//          series_resample, SERIES_AUG_P
// Training augmentations of a classification series, the four the time-series augmentation
// literature keeps coming back to (Um et al. 2017; Le Guennec et al. 2016; the survey of
// Iwana & Uchida 2021), and the per-series normalisation of the UCR archive:
//   jitter        x += N(0, sigma^2) on every value (sigma in units of the z-normalised
//                 series; the survey's default 0.03)
//   scaling       channel v multiplied by N(1, sigma^2) (0.1)
//   window slice  a random window of a fraction r of the length (0.9), stretched back to
//                 the whole length by linear interpolation (Le Guennec's WS)
//   window warp   a random window of a fraction w of the length (0.1) played at half or
//                 double speed, the whole then brought back to its length (Le Guennec's WW)
// Each one switched on is applied with probability SERIES_AUG_P, independently. The length
// never changes, so a sample's token count does not depend on its augmentation. Every
// random choice is a pure function of the sample key (datasets/augment.h ssm_augment_key of
// (seed, epoch, sample id)), drawn from fixed streams of it: turning one augmentation on or
// off does not change the others' draws.
// Series are time-major [n, V] (as datasets/ucr.h stores them).
#pragma once
#include <stdint.h>

#include "core/real.h"

#define SERIES_AUG_P 0.5 // probability of each augmentation that is on

typedef struct {
    double jitter;       // sigma of the additive noise; 0 = off
    double scaling;      // sigma of the per-channel factor around 1; 0 = off
    double window_slice; // fraction of the length kept by the slice, in (0, 1); 0 = off
    double window_warp;  // fraction of the length warped, in (0, 1); 0 = off
} series_aug;

// The draws for one sample of length n (the values' noise is drawn in apply, from the key).
typedef struct {
    uint64_t key;
    int jitter, scaling, slice, warp;  // which augmentations apply to this sample
    double slice_start;                // the slice's start, a fraction of the free room [0, 1)
    double warp_start;                 // the warped window's start, fraction of the room
    double warp_speed;                 // the window's length is multiplied by 0.5 or 2
} series_aug_choice;

series_aug_choice series_aug_choose(const series_aug *a, uint64_t key);

// x [n, V] in place; work holds at least 3 * n values. The augmentations run in the
// order slice, warp, scaling, jitter.
void series_aug_apply(real *x, int64_t n, int64_t V, const series_aug *a,
                      const series_aug_choice *ch, real *work);

// z-normalises each channel of x [n, V] over its n values (population std); a constant
// channel becomes 0.
void series_znorm(real *x, int64_t n, int64_t V);

// out [m] = in [n] (stride `step` between values of both) linearly resampled, end points
// kept (out[0] = in[0], out[m-1] = in[n-1]); m, n >= 1.
void series_resample(real *out, int64_t m, const real *in, int64_t n, int64_t step);
