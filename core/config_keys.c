// defines: ssm_config_keys, ssm_config_nkeys, ssm_config_key_find, ssm_config_key_suggest,
//          ssm_config_defaults
// The key table: one row per config key. Adding a key is: a field in
// core/config.h, a row here, a field in core/config_schema.c (the test
// ssm_config_schema_check fails until all three agree), and regenerating
// docs/config.md (the test that lists keys fails until then).
#include "core/config_keys.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const data_names[] = {"fashion_mnist", "mnist", "idx", "ett", "csv", "ucr",
                                         "musk", "clam", "fmnist_bags",
                                         "speech_commands", "esc50", "audio_folder", "modelnet",
                                         "modelnet_off", "modelnet_h5", "scanobjectnn", "shapes",
                                         "audio_manifest",
                                         "shapenetpart", "parts", NULL};
static const char *const point_sampling_names[] = {"fps", "random", "first", NULL};
static const char *const sampling_names[] = {"random", "first", NULL};
static const char *const label_set_names[] = {"all", "keywords12", NULL};
static const char *const window_names[] = {"hanning", "povey", "hamming", "rectangular", "blackman",
                                           NULL};
static const char *const features_names[] = {"M", "S", "MS", NULL};
static const char *const series_norm_names[] = {"none", "series", "dataset", "auto", NULL};
static const char *const cls_names[] = {"none", "head", "middle", NULL};
static const char *const order_layout_names[] = {"branches", "concat", NULL};
static const char *const norm_names[] = {"rms", "layer", NULL};
static const char *const merge_names[] = {"mean", "sum", NULL};
static const char *const loss_names[] = {"auto", "ce", "mse", "mae", "bce", NULL};
static const char *const pool_names[] = {"mean", "cls", "last", "attention", "gated", "max", NULL};
static const char *const optim_names[] = {"adamw", NULL};
static const char *const schedule_names[] = {"cosine", "constant", "linear", "step", NULL};
static const char *const norm_position_names[] = {"pre", "post", NULL};
static const char *const test_checkpoint_names[] = {"best", "last", NULL};
static const char *const precision_names[] = {"fp32", "bf16", NULL};
static const char *const allreduce_names[] = {"fp32", "bf16", NULL};
static const char *const progress_names[] = {"auto", "bar", "plain", "off", NULL};

// A registry-style name: lower-case letters, digits, '_' and '-'; not empty.
static bool check_ident(const char *s, char *why, size_t n) {
    if (!*s) {
        snprintf(why, n, "an empty name");
        return false;
    }
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
            snprintf(why, n, "'%s' has the character '%c'", s, *p);
            return false;
        }
    return true;
}

// A scan order's name: an identifier, optionally with a parameter after ':' ("sr:10",
// MambaMIL's sequence reordering with rate 10); the adapter checks the rest.
static bool check_order_name(const char *s, char *why, size_t n) {
    char head[64];
    snprintf(head, sizeof head, "%s", s);
    char *colon = strchr(head, ':');
    if (colon) {
        *colon = 0;
        for (const char *p = colon + 1; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                  *p == '.' || *p == '-')) {
                snprintf(why, n, "'%s' has the character '%c' in its parameter", s, *p);
                return false;
            }
    }
    return check_ident(head, why, n);
}

// Test-time augmentation: none, hflip, or vote:N with N in 1..100 (tasks/classify_tta.h).
static bool check_tta(const char *s, char *why, size_t n) {
    if (!strcmp(s, "none") || !strcmp(s, "hflip"))
        return true;
    if (!strncmp(s, "vote:", 5)) {
        char *end = NULL;
        long v = strtol(s + 5, &end, 10);
        if (end != s + 5 && !*end && v >= 1 && v <= 100)
            return true;
    }
    snprintf(why, n, "'%s' is not none, hflip or vote:N (N = 1..100)", s);
    return false;
}

// A run name becomes one folder: not empty, no '/', not "." or "..".
static bool check_run_name(const char *s, char *why, size_t n) {
    if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..")) {
        snprintf(why, n, "'%s' is not a single folder name", s);
        return false;
    }
    return true;
}

static bool check_device(const char *s, char *why, size_t n) {
    if (!strcmp(s, "cpu") || !strcmp(s, "cuda"))
        return true;
    if (!strncmp(s, "cuda:", 5) && s[5]) {
        const char *p = s + 5;
        int v = 0;
        for (; *p >= '0' && *p <= '9' && v < 1000; p++)
            v = v * 10 + (*p - '0');
        if (!*p && v < 1000)
            return true;
    }
    snprintf(why, n, "'%s' is not a device", s);
    return false;
}

#define AT(m) .offset = offsetof(ssm_config, m), .size = sizeof(((ssm_config *)0)->m)
#define INT(p, m, lo, hi, d, doc_)                                                                 \
    {.path = p, .kind = SSM_KEY_INT, AT(m), .imin = lo, .imax = hi, .def = d, .doc = doc_}
#define FLT(p, m, lo, hi, fl, d, doc_)                                                             \
    {.path = p, .kind = SSM_KEY_FLOAT, AT(m), .fmin = lo, .fmax = hi, .flags = fl, .def = d,      \
     .doc = doc_}
#define BOOL(p, m, d, doc_) {.path = p, .kind = SSM_KEY_BOOL, AT(m), .def = d, .doc = doc_}
#define ENUM(p, m, nm, d, doc_)                                                                    \
    {.path = p, .kind = SSM_KEY_ENUM, AT(m), .names = nm, .def = d, .doc = doc_}
#define STR(p, m, fl, chk, al, d, doc_)                                                            \
    {.path = p, .kind = SSM_KEY_STRING, AT(m), .flags = fl, .check = chk, .allowed = al,          \
     .def = d, .doc = doc_}

#define BIG INT64_MAX
#define MILLION 1000000

const ssm_config_key ssm_config_keys[] = {
    // --- data
    ENUM("data.name", data.name, data_names, "fashion_mnist", "Dataset reader."),
    STR("data.path", data.path, SSM_KEY_EXPAND, NULL, "any path; ${VAR} expanded", "",
        "Dataset folder or file; empty = the dataset's standard place (fashion_mnist: "
        "/usr/share/datasets/fashion-mnist). `${SSMKIT_DATA}` is the environment variable, or "
        "`../shared/data` when unset; any other `${VAR}` must be set; `$$` is a literal `$`."),
    FLT("data.val_fraction", data.val_fraction, 0, 0.5, 0, "0.1",
        "Fraction of the training split held out for validation (0 = validate on the test split)."),
    INT("data.batch_size", data.batch_size, 1, MILLION, "64", "Training batch size."),
    INT("data.eval_batch_size", data.eval_batch_size, 0, MILLION, "0",
        "Evaluation batch size; 0 = data.batch_size."),
    INT("data.num_workers", data.num_workers, 0, 16, "2",
        "Prefetch threads; 0 = batches are made on the training thread."),
    BOOL("data.shuffle", data.shuffle, "true", "Shuffle the training set each epoch (seeded)."),
    INT("data.limit", data.limit, 0, BIG, "0",
        "Use only the first N training samples (smoke tests); 0 = all."),
    INT("data.augment.random_crop_padding", data.augment.random_crop_padding, 0, 64, "0",
        "Images: pad by this many pixels, then crop back at a random offset; 0 = off."),
    BOOL("data.augment.hflip", data.augment.hflip, "false", "Images: random horizontal flip."),
    FLT("data.augment.random_erasing", data.augment.random_erasing, 0, 1, 0, "0",
        "Images: probability of erasing one random rectangle (2-40% of the area, aspect 0.3-3.3) to 0 after normalisation; 0 = off."),
    BOOL("data.augment.normalize", data.augment.normalize, "true",
         "Standardize inputs with training-set statistics (images per channel, series per variate; point clouds: each cloud centred and scaled to the unit sphere)."),
    // audio augmentation (datasets/audio_augment.h): beside the other data.augment keys
    INT("data.augment.freq_mask", data.augment.freq_mask, 0, 1024, "0",
        "Audio: SpecAugment frequency mask parameter (torchaudio FrequencyMasking: widths "
        "uniform below it, cells set to 0 before normalisation); 0 = off."),
    INT("data.augment.time_mask", data.augment.time_mask, 0, MILLION, "0",
        "Audio: SpecAugment time mask parameter in frames; 0 = off."),
    INT("data.augment.masks", data.augment.masks, 0, 4, "1",
        "Audio: frequency masks and time masks of each kind (AST: 1; SpecAugment LD: 2)."),
    FLT("data.augment.time_shift", data.augment.time_shift, 0, 1, 0, "0",
        "Audio: random time shift of the waveform, at most this fraction of the clip; 0 = off."),
    BOOL("data.augment.roll", data.augment.roll, "false",
         "Audio: the shift rolls the clip around (AST) instead of shifting zeros in (TF)."),
    FLT("data.augment.gain_db", data.augment.gain_db, 0, 60, 0, "0",
        "Audio: random gain, uniform in +-gain_db dB; 0 = off."),
    FLT("data.augment.noise", data.augment.noise, 0, 1, 0, "0",
        "Audio: probability of adding a random segment of background noise; 0 = off."),
    FLT("data.augment.snr_min", data.augment.snr_min, -30, 100, 0, "0",
        "Audio: lowest signal-to-noise ratio of the added noise, dB."),
    FLT("data.augment.snr_max", data.augment.snr_max, -30, 100, 0, "20",
        "Audio: highest signal-to-noise ratio of the added noise, dB."),
    STR("data.augment.noise_dir", data.augment.noise_dir, SSM_KEY_EXPAND, NULL,
        "any path; ${VAR} expanded", "",
        "Audio: folder of noise files; empty = the set's _background_noise_/ (Speech Commands)."),
    FLT("data.augment.mixup", data.augment.mixup, 0, 1, 0, "0",
        "Audio: probability of mixing a second training clip into the waveform (AST: 0.5 "
        "AudioSet, 0.6 Speech Commands, 0 ESC-50); the labels mix with the same weight (classify: "
        "soft-target cross-entropy; multilabel: mixed multi-hot BCE targets); 0 = off."),
    FLT("data.augment.mixup_alpha", data.augment.mixup_alpha, 0, 1000, SSM_KEY_MIN_OPEN, "10",
        "Audio: the mixing weight lambda ~ Beta(alpha, alpha) (AST: 10)."),
    // point clouds (kept beside the other augment keys: the written YAML nests them once)
    BOOL("data.augment.scale_translate", data.augment.scale_translate, "false",
         "Points: scale each axis by U(2/3, 3/2) and shift it by U(-0.2, 0.2) (Point-MAE, "
         "PointMamba ModelNet)."),
    BOOL("data.augment.rotate_up", data.augment.rotate_up, "false",
         "Points: random rotation about the up axis y (ScanObjectNN recipes)."),
    FLT("data.augment.jitter", data.augment.jitter, 0, 1, 0, "0",
        "Points: sigma of a Gaussian jitter of x, y, z, clipped to 5 sigma (PointNet: 0.01); "
        "0 = off."),
    FLT("data.augment.point_dropout", data.augment.point_dropout, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Points: PointNet++ random point dropout, a ratio drawn in [0, this) per cloud (0.875 "
        "in PointNet++); 0 = off."),
    // series classification (datasets/series_augment.h): each applies with probability 1/2
    FLT("data.augment.scaling", data.augment.scaling, 0, 10, 0, "0",
        "Series (ucr): multiply each channel by N(1, sigma^2), sigma this (0.1); 0 = off. "
        "data.augment.jitter adds N(0, sigma^2) noise to every value (0.03)."),
    FLT("data.augment.window_slice", data.augment.window_slice, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Series (ucr): crop a random window of this fraction of the length (0.9) and stretch it "
        "back to the whole length; 0 = off."),
    FLT("data.augment.window_warp", data.augment.window_warp, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Series (ucr): play a random window of this fraction of the length (0.1) at half or "
        "double speed, the series keeping its length; 0 = off."),
    FLT("data.augment.feature_dropout", data.augment.feature_dropout, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Bags: dropout on the training instances' features: each value is zeroed with this "
        "probability (after standardisation) and the others scaled by 1 / (1 - p), drawn per "
        "bag and epoch; validation and test bags are never touched; 0 = off."),
    INT("data.lookback", data.lookback, 1, MILLION, "96", "Series: input window length."),
    INT("data.horizon", data.horizon, 1, MILLION, "96", "Series: forecast length."),
    INT("data.stride", data.stride, 1, MILLION, "1", "Series: step between windows."),
    STR("data.target", data.target, 0, NULL, "a column name", "OT",
        "Series: target column for features S and MS."),
    ENUM("data.features", data.features, features_names, "M",
         "Series: M = all variates in and out, S = target only, MS = all in, target out."),
    BOOL("data.time_features", data.time_features, "false",
         "Series forecasting: the calendar features of every input step (hour of day, day of "
         "week, day of month, day of year from the date column, each in [-0.5, 0.5], "
         "Time-Series-Library's timeF) as 4 extra input columns before the variates; "
         "series_variate makes each its own token, not RevIN-normalised and not forecast "
         "(iTransformer / S-Mamba's x_mark)."),
    BOOL("data.pack", data.pack, "false",
         "ucr: each series is its own packed (ragged) sequence of patch tokens, series of "
         "unequal lengths without padding (adapter bag_features embeds the tokens)."),
    INT("data.patch_len", data.patch_len, 0, MILLION, "0",
        "ucr with data.pack: time steps per token; 0 = 2 x data.patch_stride."),
    INT("data.patch_stride", data.patch_stride, 0, MILLION, "0",
        "ucr with data.pack: steps between tokens; 0 = automatic (the longest series gives "
        "about 64 tokens)."),
    ENUM("data.series_norm", data.series_norm, series_norm_names, "none",
         "ucr: none; series = z-normalise each series, each channel over its own length (the "
         "UCR convention, which erases levels that may tell classes apart); dataset = "
         "standardise each channel with the training series' mean and std (all their steps); "
         "auto = series for univariate sets (the archive's convention; a few sets ship "
         "unnormalised), dataset for multivariate ones."),
    INT("data.max_tokens", data.max_tokens, 0, BIG, "0",
        "Bags: instances one batch holds (a batch ends early rather than overflow; a longer "
        "bag is refused); 0 = the exact worst case of the split (its batch_size longest bags)."),
    INT("data.max_instances", data.max_instances, 0, BIG, "0",
        "Bags: crop a longer bag to this many instances (data.instance_sampling); 0 = never."),
    ENUM("data.instance_sampling", data.instance_sampling, sampling_names, "random",
         "Bags: which instances a crop keeps: random (seeded per bag and epoch, in bag order) "
         "or the first ones."),
    BOOL("data.weighted_sampling", data.weighted_sampling, "false",
         "Bags: draw training bags with replacement, each class equally often (CLAM's "
         "weighted sampler)."),
    STR("data.label_map", data.label_map, 0, NULL, "name:class pairs", "",
        "clam: label names to classes, `normal:0,tumor:1` (several names may share a class); "
        "empty = the sorted distinct names are classes 0, 1, ..."),
    STR("data.features_dir", data.features_dir, SSM_KEY_EXPAND, NULL, "any path; ${VAR} expanded",
        "", "clam: the folder holding h5_files/; empty = the folder of the dataset CSV (data.path)."),
    STR("data.splits_dir", data.splits_dir, SSM_KEY_EXPAND, NULL, "any path; ${VAR} expanded", "",
        "clam: the folder of CLAM's splits_<k>.csv (data.fold picks k); empty = seeded "
        "stratified folds (data.folds)."),
    BOOL("data.coords", data.coords, "false",
         "clam: each token carries its patch's 2 coordinates after the features (for coordinate "
         "scan orders; the adapter does not embed them)."),
    INT("data.folds", data.folds, 2, MILLION, "10", "Bags: folds of the cross-validation."),
    INT("data.fold", data.fold, 0, MILLION, "0",
        "Bags: the fold tested (0..folds-1; clam with data.splits_dir: splits_<fold>.csv); esc50: "
        "the test split is the CSV's fold data.fold + 1."),
    INT("data.repeat", data.repeat, 0, MILLION, "0",
        "Bags: the repeat of the cross-validation (each repeat deals the folds anew)."),
    INT("data.repeats", data.repeats, 1, 1000, "1",
        "Bags: `ssmkit cv` repeats the K-fold split this many times (fresh seeded folds)."),
    INT("data.bag_target_class", data.bag_target_class, 0, 9, "9",
        "fmnist_bags: a bag is positive when it holds an image of this class."),
    INT("data.num_bags", data.num_bags, 1, MILLION, "200", "fmnist_bags: training bags."),
    INT("data.num_test_bags", data.num_test_bags, 1, MILLION, "1000", "fmnist_bags: test bags."),
    FLT("data.bag_mean_len", data.bag_mean_len, 1, 1e6, 0, "10",
        "fmnist_bags: mean bag length."),
    FLT("data.bag_std_len", data.bag_std_len, 0, 1e6, 0, "2",
        "fmnist_bags: standard deviation of the bag length (lengths are rounded, at least 1)."),
    // --- data: audio (datasets/audio_data.h, datasets/fbank.h)
    INT("data.sample_rate", data.sample_rate, 1000, 384000, "16000",
        "Audio: clips are resampled to this rate (libsoxr)."),
    INT("data.target_frames", data.target_frames, 1, MILLION, "1024",
        "Audio: fbank frames per clip, cut or zero-padded (AST: 128 for 1 s keywords, 512 for "
        "5 s ESC-50, 1024 for 10 s AudioSet); training cuts a longer clip at a random frame."),
    ENUM("data.label_set", data.label_set, label_set_names, "all",
         "speech_commands: all = every word folder is a class (35 in v2); keywords12 = 10 "
         "words + _silence_ + _unknown_."),
    FLT("data.audio_mean", data.audio_mean, -1e6, 1e6, 0, "0",
        "Audio: normalisation mean of the log-mel values (used when data.audio_std > 0)."),
    FLT("data.audio_std", data.audio_std, 0, 1e6, 0, "0",
        "Audio: x = (fbank - audio_mean) / (2 audio_std); 0 = both from the training set (AST's "
        "published values: AudioSet -4.2677393 / 4.5689974, ESC-50 -6.6268077 / 5.358466, "
        "Speech Commands -6.845978 / 5.5654526)."),
    STR("data.train_manifest", data.train_manifest, SSM_KEY_EXPAND, NULL,
        "any path; ${VAR} expanded", "",
        "audio_manifest: the training clips, an AST/AuM JSON manifest (`{\"data\": [{\"wav\": "
        "..., \"labels\": \"/m/..,/m/..\"}]}`); a relative path is under data.path."),
    STR("data.val_manifest", data.val_manifest, SSM_KEY_EXPAND, NULL,
        "any path; ${VAR} expanded", "",
        "audio_manifest: the validation clips; empty = data.val_fraction of the training clips."),
    STR("data.test_manifest", data.test_manifest, SSM_KEY_EXPAND, NULL,
        "any path; ${VAR} expanded", "",
        "audio_manifest: the test clips; empty = the validation manifest's (as AST evaluates "
        "AudioSet on its eval set)."),
    STR("data.label_csv", data.label_csv, SSM_KEY_EXPAND, NULL, "any path; ${VAR} expanded",
        "class_labels_indices.csv",
        "audio_manifest: the classes, `index,mid,display_name` per line (AudioSet's "
        "class_labels_indices.csv); a relative path is under data.path."),
    INT("data.fbank.num_mel_bins", data.fbank.num_mel_bins, 4, 1024, "128", "Audio: mel bins."),
    FLT("data.fbank.frame_length_ms", data.fbank.frame_length_ms, 0, 1000, SSM_KEY_MIN_OPEN, "25",
        "Audio: window length in ms."),
    FLT("data.fbank.frame_shift_ms", data.fbank.frame_shift_ms, 0, 1000, SSM_KEY_MIN_OPEN, "10",
        "Audio: hop in ms."),
    BOOL("data.fbank.round_to_power_of_two", data.fbank.round_to_power_of_two, "true",
         "Audio: FFT size = the next power of two >= the window (512 at 16 kHz)."),
    BOOL("data.fbank.remove_dc_clip", data.fbank.remove_dc_clip, "true",
         "Audio: subtract the clip's mean first (AST: waveform - waveform.mean())."),
    BOOL("data.fbank.remove_dc_offset", data.fbank.remove_dc_offset, "true",
         "Audio: subtract each frame's mean."),
    FLT("data.fbank.preemphasis", data.fbank.preemphasis, 0, 1, 0, "0.97",
        "Audio: pre-emphasis coefficient; 0 = off."),
    ENUM("data.fbank.window", data.fbank.window, window_names, "hanning",
         "Audio: window (torchaudio's names; hanning = symmetric Hann, as AST)."),
    FLT("data.fbank.low_freq", data.fbank.low_freq, 0, 1e6, 0, "20",
        "Audio: lowest mel filter edge in Hz."),
    FLT("data.fbank.high_freq", data.fbank.high_freq, -1e6, 1e6, 0, "0",
        "Audio: highest edge in Hz; 0 = Nyquist, < 0 = that far below Nyquist."),
    BOOL("data.fbank.snip_edges", data.fbank.snip_edges, "true",
         "Audio: frames lie inside the clip, 1 + (N - window) / hop of them (false: Kaldi's "
         "mirrored edges)."),
    // --- data: point clouds (datasets/pc_data.h)
    STR("data.subset", data.subset, 0, NULL, "a variant name or empty", "",
        "Points: which variant of the data: modelnet40 or modelnet10 (modelnet, modelnet_h5 "
        "reads modelnet40 only), obj_bg, obj_only or pb_t50_rs (scanobjectnn); empty = "
        "modelnet40 / pb_t50_rs."),
    INT("data.num_points", data.num_points, 1, 1 << 24, "1024",
        "Points: points per cloud the model sees (each cloud is reduced to this many once, at "
        "load; a smaller cloud repeats its points)."),
    ENUM("data.point_sampling", data.point_sampling, point_sampling_names, "fps",
         "Points: how a cloud is reduced to data.num_points: farthest point sampling from the "
         "first point, a seeded random subset, or the first points."),
    BOOL("data.normals", data.normals, "false",
         "Points: each point carries its normal (x, y, z, nx, ny, nz; set adapter.channels: 6)."),
    INT("data.shapes_per_class", data.shapes_per_class, 1, MILLION, "100",
        "shapes, parts: generated training shapes per class (the test split has a quarter as "
        "many, at least 1)."),
    // --- adapter
    STR("adapter.name", adapter.name, 0, check_ident, "a registered adapter", "image_patches",
        "Modality adapter, by its registry name (checked against the registry when the model is "
        "built)."),
    INT("adapter.patch_size", adapter.patch_size, 1, 4096, "4", "Patch side (images) or length (series)."),
    INT("adapter.stride", adapter.stride, 0, 4096, "0", "Patch stride; 0 = patch_size (no overlap)."),
    INT("adapter.channels", adapter.channels, 1, 4096, "1", "Input channels (1 grey, 3 RGB)."),
    ENUM("adapter.cls_token", adapter.cls_token, cls_names, "none",
         "Class token: none, at the head of the sequence, or in the middle (Vim)."),
    {.path = "adapter.orders", .kind = SSM_KEY_LIST, AT(adapter.orders),
     .count_offset = offsetof(ssm_config, adapter.orders_count), .check = check_order_name,
     .allowed = "1..24 order names of the adapter (the table \"Scan orders by adapter\" above)",
     .def = "[row]",
     .doc = "Scan orders, one per backbone branch (e.g. `[row, reverse]` = bidirectional)."},
    BOOL("adapter.revin", adapter.revin, "false", "Series: reversible instance normalization."),
    BOOL("adapter.revin_affine", adapter.revin_affine, "false",
         "Series: RevIN's learnable per-variate affine (needs adapter.revin)."),
    INT("adapter.fstride", adapter.fstride, 0, 4096, "0",
        "audio_patches: patch stride along the mel bins (AST's fstride, 10 for its overlap); "
        "0 = adapter.stride."),
    INT("adapter.tstride", adapter.tstride, 0, 4096, "0",
        "audio_patches: patch stride along the frames (AST's tstride); 0 = adapter.stride."),
    INT("adapter.group_size", adapter.group_size, 0, 65536, "0",
        "Points (point_groups): points per group k (Point-MAE / PointMamba: 32); 0 = 32, or "
        "adapter.patch_size when adapter.num_groups is 0 too (the older spelling)."),
    INT("adapter.num_groups", adapter.num_groups, 0, 1 << 24, "0",
        "Points (point_groups): groups G, the FPS centres (PointMamba: 64 of 1024 points, 128 of "
        "2048); 0 = points / (group_size / 2), or points / adapter.stride in the older spelling."),
    ENUM("adapter.order_layout", adapter.order_layout, order_layout_names, "branches",
         "How the scan orders reach the backbone: one per branch, or concat: PointMamba's "
         "layout, each order's copy of the tokens scaled by a learned per-order indicator and "
         "the copies laid end to end as one sequence (backbone.n_branches 1, or 2 to scan it "
         "both ways); each token's copies are averaged after the backbone."),
    FLT("adapter.dropout", adapter.dropout, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Series (series_variate, series_patch): dropout on the adapter's tokens in training "
        "steps (S-Mamba's and iTransformer's embedding dropout, 0.1; PatchTST's after the "
        "positions); inverted, masks drawn per sample and step; 0 = off, and off at "
        "evaluation."),
    // --- backbone (mamba_ssm defaults)
    INT("backbone.d_model", backbone.d_model, 1, 65536, "128", "Model width D."),
    INT("backbone.n_layers", backbone.n_layers, 1, 1024, "4", "Number of residual Mamba blocks."),
    INT("backbone.d_state", backbone.d_state, 1, 1024, "16", "SSM state size N."),
    INT("backbone.d_conv", backbone.d_conv, 1, 64, "4", "Causal depthwise conv width."),
    INT("backbone.expand", backbone.expand, 1, 16, "2", "Inner width E = expand * d_model."),
    INT("backbone.dt_rank", backbone.dt_rank, 0, 65536, "0", "Rank of dt; 0 = ceil(d_model / 16)."),
    FLT("backbone.dt_min", backbone.dt_min, 0, 10, SSM_KEY_MIN_OPEN, "0.001",
        "Smallest initial dt (log-uniform init of the dt_proj bias)."),
    FLT("backbone.dt_max", backbone.dt_max, 0, 10, SSM_KEY_MIN_OPEN, "0.1", "Largest initial dt."),
    FLT("backbone.dt_init_floor", backbone.dt_init_floor, 0, 10, 0, "0.0001",
        "Floor applied to the initial dt."),
    ENUM("backbone.norm", backbone.norm, norm_names, "rms", "Block norm: RMSNorm or LayerNorm."),
    FLT("backbone.norm_eps", backbone.norm_eps, 0, 1, SSM_KEY_MIN_OPEN | SSM_KEY_MAX_OPEN, "1e-05",
        "Epsilon of the norms."),
    INT("backbone.n_branches", backbone.n_branches, 0, 8, "0",
        "Scan branches per block; 0 = one per entry of adapter.orders."),
    ENUM("backbone.merge", backbone.merge, merge_names, "mean", "How branch outputs are merged."),
    INT("backbone.scan_chunk", backbone.scan_chunk, 1, 65536, "64",
        "Checkpoint interval of the scan's backward (memory vs recompute)."),
    BOOL("backbone.final_norm", backbone.final_norm, "true", "Apply a final norm after the last block."),
    INT("backbone.ffn_dim", backbone.ffn_dim, 0, 1 << 20, "0",
        "Hidden width of a feed-forward sublayer after each block's mixer (Linear, GELU, "
        "Linear, with its own norm and residual; S-Mamba's d_ff); 0 = none."),
    ENUM("backbone.norm_position", backbone.norm_position, norm_position_names, "pre",
         "pre: x + mixer(norm(x)) (mamba_ssm); post: norm(x + mixer(x)), and norm(h + ffn(h)) "
         "(S-Mamba / iTransformer's encoder layer)."),
    FLT("backbone.dropout", backbone.dropout, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Dropout in the FFN (needs backbone.ffn_dim), on GELU's output and on the second "
        "linear's, in training steps (S-Mamba's and iTransformer's encoder layer, 0.1); "
        "inverted, masks drawn per sample and step; 0 = off, and off at evaluation."),
    FLT("backbone.mixer_dropout", backbone.mixer_dropout, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Dropout on each block's mixer output before the residual add, in training steps "
        "(iTransformer's x + dropout(attention(x)); S-Mamba has none there); 0 = off."),
    INT("backbone.order_prompts", backbone.order_prompts, 0, 1024, "0",
        "Point Cloud Mamba's order prompts: this many learned tokens per scan order are read "
        "before each sequence, rewritten before every layer with the prompts of the order the "
        "layer scans (PCM: 6); 0 = none. Needs adapter.order_layout branches and dense batches."),
    // --- task
    STR("task.name", task.name, 0, check_ident, "a registered task (classify, forecast, regress)",
        "classify", "The task: its head, loss, metrics and reports, by its registry name."),
    INT("task.num_classes", task.num_classes, 0, MILLION, "10",
        "Classes (classify, mil, segment; at least 2 there); unused by forecast."),
    FLT("task.label_smoothing", task.label_smoothing, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Label smoothing of the cross-entropy target."),
    ENUM("task.loss", task.loss, loss_names, "auto",
         "Loss; auto = ce for classify, mil, segment, mse for forecast, bce for multilabel."),
    ENUM("task.pool", task.pool, pool_names, "mean",
         "Sequence pooling before the head: mean of tokens, the class token, the last token; "
         "mil also: attention, gated (ABMIL attention pooling), max."),
    INT("task.attn_dim", task.attn_dim, 1, MILLION, "128",
        "mil: hidden size of the attention pooling (task.pool attention, gated)."),
    STR("task.tta", task.tta, 0, check_tta, "none, hflip, vote:N (N = 1..100)", "none",
        "Classify evaluation (validation, test, eval): hflip averages the logits of each image "
        "and its mirror; vote:N (point clouds) the logits of N copies of each cloud under the "
        "training augmentation (data.augment.scale_translate, rotate_up), Point-MAE's voting."),
    INT("task.seg_dim", task.seg_dim, 2, 65536, "256",
        "segment: width H of the head's per-point MLP (H, then H / 2, then the part logits; "
        "PointMamba: 512)."),
    FLT("task.threshold", task.threshold, 0, 1, 0, "0.5",
        "multilabel: a class is predicted when its sigmoid probability is >= this (micro-F1; "
        "`ssmkit predict` prints those classes, at most --top of them; 0 = the top K)."),
    // --- optim
    ENUM("optim.name", optim.name, optim_names, "adamw", "Optimizer."),
    FLT("optim.lr", optim.lr, 0, 10, SSM_KEY_MIN_OPEN, "0.001", "Peak learning rate."),
    FLT("optim.weight_decay", optim.weight_decay, 0, 10, 0, "0.05",
        "Decoupled weight decay (not applied to norms, biases, A_log, D, positions)."),
    FLT("optim.beta1", optim.beta1, 0, 1, SSM_KEY_MAX_OPEN, "0.9", "AdamW beta1."),
    FLT("optim.beta2", optim.beta2, 0, 1, SSM_KEY_MAX_OPEN, "0.999", "AdamW beta2."),
    FLT("optim.eps", optim.eps, 0, 1, SSM_KEY_MIN_OPEN, "1e-08", "AdamW epsilon."),
    FLT("optim.grad_clip", optim.grad_clip, 0, 1e6, 0, "1", "Clip the global gradient L2 norm; 0 = off."),
    INT("optim.warmup_steps", optim.warmup_steps, 0, BIG, "0", "Linear warmup in steps."),
    INT("optim.warmup_epochs", optim.warmup_epochs, 0, MILLION, "0",
        "Linear warmup in epochs (at most one of the warmups may be set)."),
    FLT("optim.warmup_fraction", optim.warmup_fraction, 0, 1, SSM_KEY_MAX_OPEN, "0",
        "Linear warmup as a fraction of the run's steps (after train.min_steps); at most one "
        "of the warmups may be set."),
    ENUM("optim.schedule", optim.schedule, schedule_names, "cosine",
         "Learning-rate schedule after warmup, decaying to min_lr (constant: stays at lr; step: "
         "optim.step_gamma every optim.step_epochs epochs)."),
    FLT("optim.min_lr", optim.min_lr, 0, 10, 0, "1e-06", "Final learning rate (<= lr)."),
    INT("optim.step_epochs", optim.step_epochs, 1, MILLION, "1",
        "Schedule step: the rate is multiplied by optim.step_gamma every this many epochs."),
    FLT("optim.step_gamma", optim.step_gamma, 0, 1, SSM_KEY_MIN_OPEN, "0.5",
        "Schedule step: the factor (0.5 every epoch = Time-Series-Library's lradj type1); the "
        "rate never goes below optim.min_lr."),
    // --- train
    INT("train.epochs", train.epochs, 1, MILLION, "10", "Passes over the training set."),
    INT("train.max_steps", train.max_steps, 0, BIG, "0", "Stop after this many steps; 0 = no limit."),
    INT("train.min_steps", train.min_steps, 0, BIG, "0",
        "Raise train.epochs until the run has at least this many steps (small sets); 0 = off."),
    INT("train.log_every", train.log_every, 1, BIG, "50", "Log training metrics every N steps."),
    INT("train.eval_every_epochs", train.eval_every_epochs, 1, MILLION, "1", "Evaluate every N epochs."),
    INT("train.patience", train.patience, 0, MILLION, "0",
        "Early stop after N evaluations without improvement; 0 = off."),
    STR("train.resume", train.resume, SSM_KEY_EXPAND, NULL, "a run folder or empty", "",
        "Resume the run in this folder from its last.safetensors (as --resume); empty = start fresh."),
    INT("train.checkpoint_every", train.checkpoint_every, 0, BIG, "0",
        "Also write last.safetensors every N steps, so a killed run resumes mid-epoch; 0 = at epoch ends."),
    ENUM("train.test_checkpoint", train.test_checkpoint, test_checkpoint_names, "best",
         "Weights of the final test evaluation: the best validation checkpoint, or the last step's."),
    BOOL("train.cuda_graph", train.cuda_graph, "false",
         "On a GPU (run.device: cuda): capture each batch shape's whole step (forward, backward, "
         "clipping, AdamW) as a CUDA graph after one eager step, and replay it (the same weights, "
         "fewer launch gaps); ragged batches, data-parallel runs and runs with dropout stay "
         "eager; ignored on the CPU."),
    // --- run
    STR("run.name", run.name, 0, check_run_name, "a folder name", "default",
        "Run name; outputs go to <run.dir>/<run.name>/ (`default`: the config file's name)."),
    STR("run.dir", run.dir, SSM_KEY_EXPAND, NULL, "any path; ${VAR} expanded", "runs",
        "Parent folder of run folders."),
    INT("run.seed", run.seed, 0, BIG, "0", "Seed of every random choice."),
    STR("run.device", run.device, 0, check_device, "cpu, cuda, cuda:N", "cpu",
        "Where to compute: the CPU, or one GPU (cuda = cuda:0; a `make CUDA=1` build; every "
        "registered adapter, head and task)."),
    ENUM("run.precision", run.precision, precision_names, "fp32",
         "Compute precision (parameters and optimizer state stay fp32); bf16 = mixed "
         "precision on a GPU (run.device: cuda), refused on the CPU."),
    INT("run.threads", run.threads, 0, 4096, "0", "CPU threads; 0 = all cores."),
    BOOL("run.tensorboard", run.tensorboard, "true", "Write a TensorBoard event file."),
    ENUM("run.progress", run.progress, progress_names, "auto",
         "Progress display: auto = a bar on a terminal, plain lines otherwise."),
    ENUM("run.grad_allreduce", run.grad_allreduce, allreduce_names, "fp32",
         "Gradient all-reduce of GPU ranks (mpirun, NCCL; docs/distributed.md): bf16 sends "
         "half the bytes and rounds the summed gradient to bf16; CPU ranks always sum fp32."),
};
const size_t ssm_config_nkeys = sizeof ssm_config_keys / sizeof ssm_config_keys[0];

const ssm_config_key *ssm_config_key_find(const char *path) {
    for (size_t i = 0; i < ssm_config_nkeys; i++)
        if (!strcmp(ssm_config_keys[i].path, path))
            return &ssm_config_keys[i];
    return NULL;
}

// Levenshtein distance, capped: config keys are short.
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

void ssm_config_key_suggest(const char *path, char *buf, size_t n) {
    size_t best = 4;
    buf[0] = '\0';
    // Candidates: every key path and every section prefix of one ("backbone").
    for (size_t i = 0; i < ssm_config_nkeys; i++) {
        const char *full = ssm_config_keys[i].path;
        for (size_t len = 1; len <= strlen(full); len++) {
            if (full[len] != '.' && full[len] != '\0')
                continue;
            char cand[128];
            snprintf(cand, sizeof cand, "%.*s", (int)len, full);
            size_t dist = edit_distance(path, cand);
            if (dist < best) {
                best = dist;
                snprintf(buf, n, "%s", cand);
            }
        }
    }
}

void ssm_config_defaults(ssm_config *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < ssm_config_nkeys; i++) {
        const ssm_config_key *k = &ssm_config_keys[i];
        ssm_error e;
        // The defaults are constants checked by tests/test_config.c, so this
        // cannot fail; a LIST default is "[a, b]" and is split here.
        if (k->kind == SSM_KEY_LIST) {
            char tmp[256], *entries[SSM_CFG_MAX_ORDERS];
            size_t ne = 0;
            snprintf(tmp, sizeof tmp, "%s", k->def + 1);
            tmp[strcspn(tmp, "]")] = '\0';
            char *save = NULL;
            for (char *tok = strtok_r(tmp, ", ", &save); tok && ne < SSM_CFG_MAX_ORDERS;
                 tok = strtok_r(NULL, ", ", &save))
                entries[ne++] = tok;
            ssm_config_parse_value(c, k, (const char *const *)entries, ne, &e);
        } else {
            const char *v = k->def;
            ssm_config_parse_value(c, k, &v, 1, &e);
        }
    }
}
