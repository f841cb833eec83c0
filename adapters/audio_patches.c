// defines: ssm_adapter_audio_patches (the adapter "audio_patches")
// Log-mel spectrograms -> tokens, as AST and Audio Mamba (AuM) tokenise them:
//   x [B, T, F] (frames x mel bins, as datasets/fbank.h computes them, normalised by the
//   dataset) is read as the one-channel image [1, F, T] (AST/AuM: x.unsqueeze(1)
//   .transpose(2, 3)): rows are mel bins (low to high), columns frames. No copy: the
//   shared im2col reads x through the strides of that view (adapters/patch_grid.h).
//   -> p x p patches (AuM: 16 with stride 16; AST: stride 10, overlapping), like
//      Conv2d(1, D, kernel p, stride (fstride, tstride)) without padding: gf =
//      (F - p) / fstride + 1 frequency bands by gt = (T - p) / tstride + 1 time steps,
//      P = gf * gt. Mel bins and frames past the last full patch are not read.
//   -> patch_embed.proj.weight [D, 1, p, p] (index [d, 0, mel offset, frame offset], the
//      layout of AST's and AuM's weight), .bias [D], cls_token [1, 1, D] (middle by
//      default, AuM; head; none), pos_embed [1, L, D]: adapters/patch_embed.h, the code
//      image_patches runs too, on the CPU and on the GPU.
//
// Token layout: frequency-band-major (AuM's flatten of the [gf, gt] grid): band 0's gt
// patches in time order, then band 1's, ...; the class token at index c (middle: P / 2).
//
// Scan orders (perm[l] = the position read at step l): the token ORDER of the sequence
// the backbone scans.
//   freq           frequency-band-major, AuM's default (the layout: the identity)
//   time           time-major: every band of time step 0 (low to high), then time step 1,
//                  ... (AuM's transpose_token_sequence)
//   freq_snake     band 0 forward in time, band 1 backward, ...
//   freq_reverse, time_reverse, freq_snake_reverse: the exact flip of each
//   row, column, reverse, column_reverse: image_patches' names for freq, time,
//                  freq_reverse, time_reverse on this [mel, frames] image
// AuM's bidirectional model is [freq, freq_reverse]; a time-major model [time,
// time_reverse]. Learned positions belong to the layout's slots, so the two differ only in
// the order the scan visits the same tokens; the class token is read at step c of every
// forward order, as in image_patches (the middle of the scan, whatever the order).
//
// Options: adapter.patch_size (default 16), adapter.stride (both axes; default the patch
// size), and the extras fstride / tstride (one axis each, over adapter.stride) for AST's
// per-axis strides (the config keys adapter.fstride / adapter.tstride).
//
// Any clip length: the adapter is built for the input shape it is given, so a model for a
// clip longer than the training clips is this adapter with more time steps; its learned
// positions are the trained ones resized to the longer grid when the weights are loaded
// (patch_embed_resize_from, linear in time as AST; `ssmkit predict`, docs/predict.md).
#include <stdio.h>
#include <stdlib.h>

#include "adapters/adapter.h"
#include "adapters/patch_embed.h"

#define ADAPTER_NAME "audio_patches"
#define DEFAULT_PATCH 16

static const patch_order_name order_names[] = {
    {"freq", PATCH_SCAN_ROW, 0},
    {"time", PATCH_SCAN_COLUMN, 0},
    {"freq_snake", PATCH_SCAN_SNAKE, 0},
    {"freq_reverse", PATCH_SCAN_ROW, 1},
    {"time_reverse", PATCH_SCAN_COLUMN, 1},
    {"freq_snake_reverse", PATCH_SCAN_SNAKE, 1},
    {"row", PATCH_SCAN_ROW, 0},
    {"column", PATCH_SCAN_COLUMN, 0},
    {"reverse", PATCH_SCAN_ROW, 1},
    {"column_reverse", PATCH_SCAN_COLUMN, 1}};
#define N_ORDER_NAMES 10

static ssm_code ap_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    static const char *const known[] = {"fstride", "tstride", NULL};
    SSM_TRY(ssm_adapter_check_options(opt, ADAPTER_NAME, known, err));
    if (in->ndim != 2) {
        char s[96];
        ssm_shape_str(s, sizeof s, in->ndim, in->dims);
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape %s, expected [frames, mel]",
                        ADAPTER_NAME, s);
    }
    int64_t T = in->dims[0], F = in->dims[1];
    if (T <= 0 || F <= 0)
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape [%lld, %lld] has an empty "
                        "dimension", ADAPTER_NAME, (long long)T, (long long)F);
    if (opt->in_channels > 1)
        return ssm_fail(err, SSM_ECONFIG, "%s: in_channels = %lld but a spectrogram has 1 channel",
                        ADAPTER_NAME, (long long)opt->in_channels);
    int64_t ps = opt->patch_size ? opt->patch_size : DEFAULT_PATCH;
    int64_t s = opt->stride ? opt->stride : ps, fs, ts;
    SSM_TRY(ssm_adapter_option_int(opt, ADAPTER_NAME, "fstride", s, &fs, err));
    SSM_TRY(ssm_adapter_option_int(opt, ADAPTER_NAME, "tstride", s, &ts, err));
    patch_embed *pe = calloc(1, sizeof *pe);
    if (!pe)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    a->impl = pe;
    // the view [1, F, T] of x [T, F]: a row (mel bin) steps 1, a column (frame) steps F
    patch_grid *g = &pe->g;
    *g = (patch_grid){.C = 1, .H = F, .W = T, .st_n = T * F, .st_c = T * F, .st_h = 1, .st_w = F};
    SSM_TRY(patch_grid_setup(g, ps, fs, ts, ADAPTER_NAME, "spectrogram (mel x frames)", err));
    static const char *const defaults[] = {"freq", "freq_reverse"}; // AuM's Fo-Bi
    return patch_embed_create(a, opt, order_names, N_ORDER_NAMES, defaults, 2, p, prefix, err);
}

const ssm_adapter_vtable ssm_adapter_audio_patches = {
    .name = ADAPTER_NAME,
    .summary = "log-mel spectrograms [frames, mel] -> AST/AuM p x p patches of the [mel, frames] "
               "image (fstride, tstride), linear embed, learned positions, class token "
               "head|middle|none; orders freq, time, freq_snake and their reverses",
    .create = ap_create,
    .init_params = patch_embed_init_params,
    .plan = patch_embed_plan,
    .forward = patch_embed_forward,
    .backward = patch_embed_backward,
    .free_impl = patch_embed_free,
#if SSM_HAVE_CUDA
    .plan_cuda = patch_embed_plan_cuda,
    .forward_cuda = patch_embed_forward_cuda,
    .backward_cuda = patch_embed_backward_cuda,
#endif
};
