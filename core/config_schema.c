// defines: ssm_config_cyaml_schema, ssm_config_schema_check
// The libcyaml schema of a config file: one mapping per section, every field
// optional (absent keys keep their defaults; core/config.c copies only the
// keys the file has). Ranges are not expressed here: libcyaml cannot say
// "(0, 1)" for floats, and the key table checks them with line numbers.
#include <cyaml/cyaml.h>
#include <stdio.h>
#include <string.h>

#include "core/config_keys.h"

#define OPT CYAML_FLAG_OPTIONAL
#define ESTRICT (CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT)
#define SV(s, v) {.str = s, .val = v}

static const cyaml_strval_t data_sv[] = {SV("fashion_mnist", SSM_DATA_FASHION_MNIST),
                                         SV("mnist", SSM_DATA_MNIST), SV("idx", SSM_DATA_IDX),
                                         SV("ett", SSM_DATA_ETT), SV("csv", SSM_DATA_CSV),
                                         SV("ucr", SSM_DATA_UCR), SV("musk", SSM_DATA_MUSK),
                                         SV("clam", SSM_DATA_CLAM),
                                         SV("fmnist_bags", SSM_DATA_FMNIST_BAGS),
                                         SV("speech_commands", SSM_DATA_SPEECH_COMMANDS),
                                         SV("esc50", SSM_DATA_ESC50),
                                         SV("audio_folder", SSM_DATA_AUDIO_FOLDER),
                                         SV("modelnet", SSM_DATA_MODELNET),
                                         SV("modelnet_off", SSM_DATA_MODELNET_OFF),
                                         SV("modelnet_h5", SSM_DATA_MODELNET_H5),
                                         SV("scanobjectnn", SSM_DATA_SCANOBJECTNN),
                                         SV("shapes", SSM_DATA_SHAPES),
                                         SV("audio_manifest", SSM_DATA_AUDIO_MANIFEST),
                                         SV("shapenetpart", SSM_DATA_SHAPENETPART),
                                         SV("parts", SSM_DATA_PARTS)};
static const cyaml_strval_t point_sampling_sv[] = {SV("fps", SSM_POINTS_FPS),
                                                   SV("random", SSM_POINTS_RANDOM),
                                                   SV("first", SSM_POINTS_FIRST)};
static const cyaml_strval_t sampling_sv[] = {SV("random", SSM_SAMPLING_RANDOM),
                                             SV("first", SSM_SAMPLING_FIRST)};
static const cyaml_strval_t label_set_sv[] = {SV("all", SSM_LABELS_ALL),
                                              SV("keywords12", SSM_LABELS_KEYWORDS12)};
static const cyaml_strval_t window_sv[] = {SV("hanning", SSM_WINDOW_HANNING),
                                           SV("povey", SSM_WINDOW_POVEY),
                                           SV("hamming", SSM_WINDOW_HAMMING),
                                           SV("rectangular", SSM_WINDOW_RECTANGULAR),
                                           SV("blackman", SSM_WINDOW_BLACKMAN)};
static const cyaml_strval_t features_sv[] = {SV("M", SSM_FEATURES_M), SV("S", SSM_FEATURES_S),
                                             SV("MS", SSM_FEATURES_MS)};
static const cyaml_strval_t cls_sv[] = {SV("none", SSM_CFG_CLS_NONE), SV("head", SSM_CFG_CLS_HEAD),
                                        SV("middle", SSM_CFG_CLS_MIDDLE)};
static const cyaml_strval_t order_layout_sv[] = {SV("branches", SSM_ORDERS_BRANCHES),
                                                 SV("concat", SSM_ORDERS_CONCAT)};
static const cyaml_strval_t norm_sv[] = {SV("rms", SSM_NORM_RMS), SV("layer", SSM_NORM_LAYER)};
static const cyaml_strval_t merge_sv[] = {SV("mean", SSM_MERGE_MEAN), SV("sum", SSM_MERGE_SUM)};
static const cyaml_strval_t loss_sv[] = {SV("auto", SSM_LOSS_AUTO), SV("ce", SSM_LOSS_CE),
                                         SV("mse", SSM_LOSS_MSE), SV("mae", SSM_LOSS_MAE),
                                         SV("bce", SSM_LOSS_BCE)};
static const cyaml_strval_t pool_sv[] = {SV("mean", SSM_POOL_MEAN), SV("cls", SSM_POOL_CLS),
                                         SV("last", SSM_POOL_LAST),
                                         SV("attention", SSM_POOL_ATTENTION),
                                         SV("gated", SSM_POOL_GATED), SV("max", SSM_POOL_MAX)};
static const cyaml_strval_t optim_sv[] = {SV("adamw", SSM_OPTIM_ADAMW)};
static const cyaml_strval_t test_checkpoint_sv[] = {SV("best", SSM_TEST_BEST),
                                                     SV("last", SSM_TEST_LAST)};
static const cyaml_strval_t schedule_sv[] = {SV("cosine", SSM_SCHED_COSINE),
                                             SV("constant", SSM_SCHED_CONSTANT),
                                             SV("linear", SSM_SCHED_LINEAR),
                                             SV("step", SSM_SCHED_STEP)};
static const cyaml_strval_t norm_position_sv[] = {SV("pre", SSM_NORM_POS_PRE),
                                                  SV("post", SSM_NORM_POS_POST)};
static const cyaml_strval_t series_norm_sv[] = {SV("none", SSM_SERIES_NORM_NONE),
                                                SV("series", SSM_SERIES_NORM_SERIES),
                                                SV("dataset", SSM_SERIES_NORM_DATASET),
                                                SV("auto", SSM_SERIES_NORM_AUTO)};
static const cyaml_strval_t precision_sv[] = {SV("fp32", SSM_PREC_FP32), SV("bf16", SSM_PREC_BF16)};
static const cyaml_strval_t allreduce_sv[] = {SV("fp32", SSM_ALLREDUCE_FP32),
                                              SV("bf16", SSM_ALLREDUCE_BF16)};
static const cyaml_strval_t progress_sv[] = {SV("auto", SSM_PROGRESS_AUTO), SV("bar", SSM_PROGRESS_BAR),
                                             SV("plain", SSM_PROGRESS_PLAIN), SV("off", SSM_PROGRESS_OFF)};
#define NSV(a) (sizeof a / sizeof a[0])

static const cyaml_schema_field_t augment_fields[] = {
    CYAML_FIELD_INT("random_crop_padding", OPT, ssm_augment_config, random_crop_padding),
    CYAML_FIELD_FLOAT("random_erasing", OPT, ssm_augment_config, random_erasing),
    CYAML_FIELD_BOOL("hflip", OPT, ssm_augment_config, hflip),
    CYAML_FIELD_BOOL("normalize", OPT, ssm_augment_config, normalize),
    // point clouds
    CYAML_FIELD_BOOL("scale_translate", OPT, ssm_augment_config, scale_translate),
    CYAML_FIELD_BOOL("rotate_up", OPT, ssm_augment_config, rotate_up),
    CYAML_FIELD_FLOAT("jitter", OPT, ssm_augment_config, jitter),
    CYAML_FIELD_FLOAT("point_dropout", OPT, ssm_augment_config, point_dropout),
    CYAML_FIELD_FLOAT("scaling", OPT, ssm_augment_config, scaling),
    CYAML_FIELD_FLOAT("window_slice", OPT, ssm_augment_config, window_slice),
    CYAML_FIELD_FLOAT("window_warp", OPT, ssm_augment_config, window_warp),
    CYAML_FIELD_FLOAT("feature_dropout", OPT, ssm_augment_config, feature_dropout),
    CYAML_FIELD_INT("freq_mask", OPT, ssm_augment_config, freq_mask),
    CYAML_FIELD_INT("time_mask", OPT, ssm_augment_config, time_mask),
    CYAML_FIELD_INT("masks", OPT, ssm_augment_config, masks),
    CYAML_FIELD_FLOAT("time_shift", OPT, ssm_augment_config, time_shift),
    CYAML_FIELD_BOOL("roll", OPT, ssm_augment_config, roll),
    CYAML_FIELD_FLOAT("gain_db", OPT, ssm_augment_config, gain_db),
    CYAML_FIELD_FLOAT("noise", OPT, ssm_augment_config, noise),
    CYAML_FIELD_FLOAT("snr_min", OPT, ssm_augment_config, snr_min),
    CYAML_FIELD_FLOAT("snr_max", OPT, ssm_augment_config, snr_max),
    CYAML_FIELD_STRING("noise_dir", OPT, ssm_augment_config, noise_dir, 0),
    CYAML_FIELD_FLOAT("mixup", OPT, ssm_augment_config, mixup),
    CYAML_FIELD_FLOAT("mixup_alpha", OPT, ssm_augment_config, mixup_alpha),
    CYAML_FIELD_END};

static const cyaml_schema_field_t fbank_fields[] = {
    CYAML_FIELD_INT("num_mel_bins", OPT, ssm_fbank_config, num_mel_bins),
    CYAML_FIELD_FLOAT("frame_length_ms", OPT, ssm_fbank_config, frame_length_ms),
    CYAML_FIELD_FLOAT("frame_shift_ms", OPT, ssm_fbank_config, frame_shift_ms),
    CYAML_FIELD_BOOL("round_to_power_of_two", OPT, ssm_fbank_config, round_to_power_of_two),
    CYAML_FIELD_BOOL("remove_dc_clip", OPT, ssm_fbank_config, remove_dc_clip),
    CYAML_FIELD_BOOL("remove_dc_offset", OPT, ssm_fbank_config, remove_dc_offset),
    CYAML_FIELD_FLOAT("preemphasis", OPT, ssm_fbank_config, preemphasis),
    CYAML_FIELD_ENUM("window", ESTRICT, ssm_fbank_config, window, window_sv, NSV(window_sv)),
    CYAML_FIELD_FLOAT("low_freq", OPT, ssm_fbank_config, low_freq),
    CYAML_FIELD_FLOAT("high_freq", OPT, ssm_fbank_config, high_freq),
    CYAML_FIELD_BOOL("snip_edges", OPT, ssm_fbank_config, snip_edges),
    CYAML_FIELD_END};

static const cyaml_schema_field_t data_fields[] = {
    CYAML_FIELD_ENUM("name", ESTRICT, ssm_data_config, name, data_sv, NSV(data_sv)),
    CYAML_FIELD_STRING("path", OPT, ssm_data_config, path, 0),
    CYAML_FIELD_FLOAT("val_fraction", OPT, ssm_data_config, val_fraction),
    CYAML_FIELD_INT("batch_size", OPT, ssm_data_config, batch_size),
    CYAML_FIELD_INT("eval_batch_size", OPT, ssm_data_config, eval_batch_size),
    CYAML_FIELD_INT("num_workers", OPT, ssm_data_config, num_workers),
    CYAML_FIELD_BOOL("shuffle", OPT, ssm_data_config, shuffle),
    CYAML_FIELD_INT("limit", OPT, ssm_data_config, limit),
    CYAML_FIELD_MAPPING("augment", OPT, ssm_data_config, augment, augment_fields),
    CYAML_FIELD_INT("lookback", OPT, ssm_data_config, lookback),
    CYAML_FIELD_INT("horizon", OPT, ssm_data_config, horizon),
    CYAML_FIELD_INT("stride", OPT, ssm_data_config, stride),
    CYAML_FIELD_STRING("target", OPT, ssm_data_config, target, 0),
    CYAML_FIELD_ENUM("features", ESTRICT, ssm_data_config, features, features_sv, NSV(features_sv)),
    CYAML_FIELD_BOOL("time_features", OPT, ssm_data_config, time_features),
    CYAML_FIELD_BOOL("pack", OPT, ssm_data_config, pack),
    CYAML_FIELD_INT("patch_len", OPT, ssm_data_config, patch_len),
    CYAML_FIELD_INT("patch_stride", OPT, ssm_data_config, patch_stride),
    CYAML_FIELD_ENUM("series_norm", ESTRICT, ssm_data_config, series_norm, series_norm_sv,
                     NSV(series_norm_sv)),
    CYAML_FIELD_INT("max_tokens", OPT, ssm_data_config, max_tokens),
    CYAML_FIELD_INT("max_instances", OPT, ssm_data_config, max_instances),
    CYAML_FIELD_ENUM("instance_sampling", ESTRICT, ssm_data_config, instance_sampling, sampling_sv,
                     NSV(sampling_sv)),
    CYAML_FIELD_BOOL("weighted_sampling", OPT, ssm_data_config, weighted_sampling),
    CYAML_FIELD_STRING("label_map", OPT, ssm_data_config, label_map, 0),
    CYAML_FIELD_STRING("features_dir", OPT, ssm_data_config, features_dir, 0),
    CYAML_FIELD_STRING("splits_dir", OPT, ssm_data_config, splits_dir, 0),
    CYAML_FIELD_BOOL("coords", OPT, ssm_data_config, coords),
    CYAML_FIELD_INT("sample_rate", OPT, ssm_data_config, sample_rate),
    CYAML_FIELD_INT("target_frames", OPT, ssm_data_config, target_frames),
    CYAML_FIELD_ENUM("label_set", ESTRICT, ssm_data_config, label_set, label_set_sv,
                     NSV(label_set_sv)),
    CYAML_FIELD_FLOAT("audio_mean", OPT, ssm_data_config, audio_mean),
    CYAML_FIELD_FLOAT("audio_std", OPT, ssm_data_config, audio_std),
    CYAML_FIELD_STRING("train_manifest", OPT, ssm_data_config, train_manifest, 0),
    CYAML_FIELD_STRING("val_manifest", OPT, ssm_data_config, val_manifest, 0),
    CYAML_FIELD_STRING("test_manifest", OPT, ssm_data_config, test_manifest, 0),
    CYAML_FIELD_STRING("label_csv", OPT, ssm_data_config, label_csv, 0),
    CYAML_FIELD_MAPPING("fbank", OPT, ssm_data_config, fbank, fbank_fields),
    CYAML_FIELD_INT("folds", OPT, ssm_data_config, folds),
    CYAML_FIELD_INT("fold", OPT, ssm_data_config, fold),
    CYAML_FIELD_INT("repeat", OPT, ssm_data_config, repeat),
    CYAML_FIELD_INT("repeats", OPT, ssm_data_config, repeats),
    CYAML_FIELD_INT("bag_target_class", OPT, ssm_data_config, bag_target_class),
    CYAML_FIELD_INT("num_bags", OPT, ssm_data_config, num_bags),
    CYAML_FIELD_INT("num_test_bags", OPT, ssm_data_config, num_test_bags),
    CYAML_FIELD_FLOAT("bag_mean_len", OPT, ssm_data_config, bag_mean_len),
    CYAML_FIELD_FLOAT("bag_std_len", OPT, ssm_data_config, bag_std_len),
    // point clouds
    CYAML_FIELD_STRING("subset", OPT, ssm_data_config, subset, 0),
    CYAML_FIELD_INT("num_points", OPT, ssm_data_config, num_points),
    CYAML_FIELD_ENUM("point_sampling", ESTRICT, ssm_data_config, point_sampling,
                     point_sampling_sv, NSV(point_sampling_sv)),
    CYAML_FIELD_BOOL("normals", OPT, ssm_data_config, normals),
    CYAML_FIELD_INT("shapes_per_class", OPT, ssm_data_config, shapes_per_class),
    CYAML_FIELD_END};

// One scan-order name: a char[SSM_CFG_ORDER_MAX] stored in place.
static const cyaml_schema_value_t order_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_DEFAULT, char[SSM_CFG_ORDER_MAX], 0, SSM_CFG_ORDER_MAX - 1)};

static const cyaml_schema_field_t adapter_fields[] = {
    CYAML_FIELD_STRING("name", OPT, ssm_adapter_config, name, 0),
    CYAML_FIELD_INT("patch_size", OPT, ssm_adapter_config, patch_size),
    CYAML_FIELD_INT("stride", OPT, ssm_adapter_config, stride),
    CYAML_FIELD_INT("channels", OPT, ssm_adapter_config, channels),
    CYAML_FIELD_ENUM("cls_token", ESTRICT, ssm_adapter_config, cls_token, cls_sv, NSV(cls_sv)),
    CYAML_FIELD_SEQUENCE_COUNT("orders", OPT, ssm_adapter_config, orders, orders_count, &order_entry,
                               1, SSM_CFG_MAX_ORDERS),
    CYAML_FIELD_BOOL("revin", OPT, ssm_adapter_config, revin),
    CYAML_FIELD_BOOL("revin_affine", OPT, ssm_adapter_config, revin_affine),
    CYAML_FIELD_INT("fstride", OPT, ssm_adapter_config, fstride),
    CYAML_FIELD_INT("tstride", OPT, ssm_adapter_config, tstride),
    CYAML_FIELD_INT("group_size", OPT, ssm_adapter_config, group_size),
    CYAML_FIELD_INT("num_groups", OPT, ssm_adapter_config, num_groups),
    CYAML_FIELD_ENUM("order_layout", ESTRICT, ssm_adapter_config, order_layout, order_layout_sv,
                     NSV(order_layout_sv)),
    CYAML_FIELD_FLOAT("dropout", OPT, ssm_adapter_config, dropout),
    CYAML_FIELD_END};

static const cyaml_schema_field_t backbone_fields[] = {
    CYAML_FIELD_INT("d_model", OPT, ssm_backbone_config, d_model),
    CYAML_FIELD_INT("n_layers", OPT, ssm_backbone_config, n_layers),
    CYAML_FIELD_INT("d_state", OPT, ssm_backbone_config, d_state),
    CYAML_FIELD_INT("d_conv", OPT, ssm_backbone_config, d_conv),
    CYAML_FIELD_INT("expand", OPT, ssm_backbone_config, expand),
    CYAML_FIELD_INT("dt_rank", OPT, ssm_backbone_config, dt_rank),
    CYAML_FIELD_FLOAT("dt_min", OPT, ssm_backbone_config, dt_min),
    CYAML_FIELD_FLOAT("dt_max", OPT, ssm_backbone_config, dt_max),
    CYAML_FIELD_FLOAT("dt_init_floor", OPT, ssm_backbone_config, dt_init_floor),
    CYAML_FIELD_ENUM("norm", ESTRICT, ssm_backbone_config, norm, norm_sv, NSV(norm_sv)),
    CYAML_FIELD_FLOAT("norm_eps", OPT, ssm_backbone_config, norm_eps),
    CYAML_FIELD_INT("n_branches", OPT, ssm_backbone_config, n_branches),
    CYAML_FIELD_ENUM("merge", ESTRICT, ssm_backbone_config, merge, merge_sv, NSV(merge_sv)),
    CYAML_FIELD_INT("scan_chunk", OPT, ssm_backbone_config, scan_chunk),
    CYAML_FIELD_BOOL("final_norm", OPT, ssm_backbone_config, final_norm),
    CYAML_FIELD_INT("ffn_dim", OPT, ssm_backbone_config, ffn_dim),
    CYAML_FIELD_ENUM("norm_position", ESTRICT, ssm_backbone_config, norm_position,
                     norm_position_sv, NSV(norm_position_sv)),
    CYAML_FIELD_FLOAT("dropout", OPT, ssm_backbone_config, dropout),
    CYAML_FIELD_FLOAT("mixer_dropout", OPT, ssm_backbone_config, mixer_dropout),
    CYAML_FIELD_INT("order_prompts", OPT, ssm_backbone_config, order_prompts),
    CYAML_FIELD_END};

static const cyaml_schema_field_t task_fields[] = {
    CYAML_FIELD_STRING("name", OPT, ssm_task_config, name, 0),
    CYAML_FIELD_INT("num_classes", OPT, ssm_task_config, num_classes),
    CYAML_FIELD_FLOAT("label_smoothing", OPT, ssm_task_config, label_smoothing),
    CYAML_FIELD_ENUM("loss", ESTRICT, ssm_task_config, loss, loss_sv, NSV(loss_sv)),
    CYAML_FIELD_ENUM("pool", ESTRICT, ssm_task_config, pool, pool_sv, NSV(pool_sv)),
    CYAML_FIELD_INT("attn_dim", OPT, ssm_task_config, attn_dim),
    CYAML_FIELD_STRING("tta", OPT, ssm_task_config, tta, 0),
    CYAML_FIELD_INT("seg_dim", OPT, ssm_task_config, seg_dim),
    CYAML_FIELD_FLOAT("threshold", OPT, ssm_task_config, threshold),
    CYAML_FIELD_END};

static const cyaml_schema_field_t optim_fields[] = {
    CYAML_FIELD_ENUM("name", ESTRICT, ssm_optim_config, name, optim_sv, NSV(optim_sv)),
    CYAML_FIELD_FLOAT("lr", OPT, ssm_optim_config, lr),
    CYAML_FIELD_FLOAT("weight_decay", OPT, ssm_optim_config, weight_decay),
    CYAML_FIELD_FLOAT("beta1", OPT, ssm_optim_config, beta1),
    CYAML_FIELD_FLOAT("beta2", OPT, ssm_optim_config, beta2),
    CYAML_FIELD_FLOAT("eps", OPT, ssm_optim_config, eps),
    CYAML_FIELD_FLOAT("grad_clip", OPT, ssm_optim_config, grad_clip),
    CYAML_FIELD_INT("warmup_steps", OPT, ssm_optim_config, warmup_steps),
    CYAML_FIELD_INT("warmup_epochs", OPT, ssm_optim_config, warmup_epochs),
    CYAML_FIELD_FLOAT("warmup_fraction", OPT, ssm_optim_config, warmup_fraction),
    CYAML_FIELD_ENUM("schedule", ESTRICT, ssm_optim_config, schedule, schedule_sv, NSV(schedule_sv)),
    CYAML_FIELD_FLOAT("min_lr", OPT, ssm_optim_config, min_lr),
    CYAML_FIELD_INT("step_epochs", OPT, ssm_optim_config, step_epochs),
    CYAML_FIELD_FLOAT("step_gamma", OPT, ssm_optim_config, step_gamma),
    CYAML_FIELD_END};

static const cyaml_schema_field_t train_fields[] = {
    CYAML_FIELD_INT("epochs", OPT, ssm_train_config, epochs),
    CYAML_FIELD_INT("max_steps", OPT, ssm_train_config, max_steps),
    CYAML_FIELD_INT("min_steps", OPT, ssm_train_config, min_steps),
    CYAML_FIELD_INT("log_every", OPT, ssm_train_config, log_every),
    CYAML_FIELD_INT("eval_every_epochs", OPT, ssm_train_config, eval_every_epochs),
    CYAML_FIELD_INT("patience", OPT, ssm_train_config, patience),
    CYAML_FIELD_STRING("resume", OPT, ssm_train_config, resume, 0),
    CYAML_FIELD_INT("checkpoint_every", OPT, ssm_train_config, checkpoint_every),
    CYAML_FIELD_ENUM("test_checkpoint", ESTRICT, ssm_train_config, test_checkpoint,
                     test_checkpoint_sv, NSV(test_checkpoint_sv)),
    CYAML_FIELD_BOOL("cuda_graph", OPT, ssm_train_config, cuda_graph),
    CYAML_FIELD_END};

static const cyaml_schema_field_t run_fields[] = {
    CYAML_FIELD_STRING("name", OPT, ssm_run_config, name, 0),
    CYAML_FIELD_STRING("dir", OPT, ssm_run_config, dir, 0),
    CYAML_FIELD_INT("seed", OPT, ssm_run_config, seed),
    CYAML_FIELD_STRING("device", OPT, ssm_run_config, device, 0),
    CYAML_FIELD_ENUM("precision", ESTRICT, ssm_run_config, precision, precision_sv, NSV(precision_sv)),
    CYAML_FIELD_INT("threads", OPT, ssm_run_config, threads),
    CYAML_FIELD_BOOL("tensorboard", OPT, ssm_run_config, tensorboard),
    CYAML_FIELD_ENUM("progress", ESTRICT, ssm_run_config, progress, progress_sv, NSV(progress_sv)),
    CYAML_FIELD_ENUM("grad_allreduce", ESTRICT, ssm_run_config, grad_allreduce, allreduce_sv,
                     NSV(allreduce_sv)),
    CYAML_FIELD_END};

static const cyaml_schema_field_t top_fields[] = {
    CYAML_FIELD_MAPPING("data", OPT, ssm_config, data, data_fields),
    CYAML_FIELD_MAPPING("adapter", OPT, ssm_config, adapter, adapter_fields),
    CYAML_FIELD_MAPPING("backbone", OPT, ssm_config, backbone, backbone_fields),
    CYAML_FIELD_MAPPING("task", OPT, ssm_config, task, task_fields),
    CYAML_FIELD_MAPPING("optim", OPT, ssm_config, optim, optim_fields),
    CYAML_FIELD_MAPPING("train", OPT, ssm_config, train, train_fields),
    CYAML_FIELD_MAPPING("run", OPT, ssm_config, run, run_fields),
    CYAML_FIELD_END};

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, ssm_config, top_fields)};

const void *ssm_config_cyaml_schema(void) { return &top_schema; }

// --- agreement between this schema and the key table ---------------------

static int table_kind_of(cyaml_type_e t) {
    switch (t) {
    case CYAML_INT: return SSM_KEY_INT;
    case CYAML_FLOAT: return SSM_KEY_FLOAT;
    case CYAML_BOOL: return SSM_KEY_BOOL;
    case CYAML_ENUM: return SSM_KEY_ENUM;
    case CYAML_STRING: return SSM_KEY_STRING;
    case CYAML_SEQUENCE: return SSM_KEY_LIST;
    default: return -1;
    }
}

// Walks the schema depth first; each leaf must be in the table with the same
// place and type. Counts leaves so that keys missing from the schema show too.
static bool walk(const cyaml_schema_field_t *fields, const char *prefix, size_t base, size_t *leaves,
                 char *why, size_t n) {
    for (const cyaml_schema_field_t *f = fields; f->key; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", f->key);
        size_t off = base + f->data_offset;
        if (f->value.type == CYAML_MAPPING) {
            if (!walk(f->value.mapping.fields, path, off, leaves, why, n))
                return false;
            continue;
        }
        const ssm_config_key *k = ssm_config_key_find(path);
        if (!k) {
            snprintf(why, n, "schema key %s is not in the key table", path);
            return false;
        }
        (*leaves)++;
        if (k->offset != off || table_kind_of(f->value.type) != (int)k->kind) {
            snprintf(why, n, "%s: schema and key table disagree on place or type", path);
            return false;
        }
        if (k->kind == SSM_KEY_LIST) {
            if (base + f->count_offset != k->count_offset || f->count_size != sizeof(uint32_t)) {
                snprintf(why, n, "%s: count field disagrees", path);
                return false;
            }
        } else if (f->value.data_size != k->size) {
            snprintf(why, n, "%s: size %u in the schema, %zu in the table", path, f->value.data_size,
                     k->size);
            return false;
        }
        if (k->kind == SSM_KEY_ENUM) {
            size_t nn = 0;
            while (k->names[nn])
                nn++;
            if (nn != f->value.enumeration.count) {
                snprintf(why, n, "%s: enum sizes disagree", path);
                return false;
            }
            for (size_t i = 0; i < nn; i++) {
                const cyaml_strval_t *sv = &f->value.enumeration.strings[i];
                if (strcmp(sv->str, k->names[sv->val < 0 || (size_t)sv->val >= nn ? 0 : sv->val]) ||
                    sv->val < 0 || (size_t)sv->val >= nn) {
                    snprintf(why, n, "%s: enum value %s disagrees", path, sv->str);
                    return false;
                }
            }
        }
    }
    return true;
}

bool ssm_config_schema_check(char *why, size_t n) {
    size_t leaves = 0;
    if (!walk(top_fields, "", 0, &leaves, why, n))
        return false;
    if (leaves != ssm_config_nkeys) {
        snprintf(why, n, "the key table has %zu keys, the schema %zu", ssm_config_nkeys, leaves);
        return false;
    }
    return true;
}
