// defines: patch_grid
// The geometry of p x p patches over a 2-D view of one sample, shared by the patch
// adapters (adapters/patch_embed.h) and their device kernels (adapters/cuda/patches.h),
// so a plain C header the CUDA compiler reads too. A view reads x through element
// strides, so one im2col serves an image [C, H, W] as stored (row stride W, column
// stride 1) and a spectrogram [frames, mel] seen as the one-channel image [1, mel,
// frames] that AST and AuM patch (row stride 1, column stride mel) without a copy.
#pragma once
#include <stdint.h>

typedef struct {
    int64_t C, H, W;               // channels, rows, columns of the view of one sample
    int64_t st_n, st_c, st_h, st_w; // element strides in x: sample, channel, row, column
    int64_t p;                     // patch side
    int64_t sh, sw;                // strides between patches along rows and along columns
    int64_t gh, gw, P, K;          // grid rows (H - p) / sh + 1, columns, P = gh * gw, K = C p p
} patch_grid;
// Patch q of the grid (row-major: gi = q / gw, gj = q % gw) is column block
// cols[q, c*p*p + ki*p + kj] = x[c*st_c + (gi*sh + ki)*st_h + (gj*sw + kj)*st_w]: the
// columns follow a Conv2d weight's [D, C, p, p] layout over the view.
