// defines: class_metrics, class_metrics_init, class_metrics_free, class_metrics_reset,
//          class_metrics_add, class_metrics_add_predictions, class_metrics_merge,
//          class_metrics_accuracy, class_metrics_topk_accuracy, class_metrics_macro_f1,
//          class_metrics_per_class_accuracy, class_metrics_write_confusion_csv,
//          task_metrics, task_metrics_set, task_metrics_get, TASK_MAX_METRICS,
//          value_metrics, value_metrics_init, value_metrics_free, value_metrics_reset,
//          value_metrics_add, value_metrics_report, class_metrics_balanced_accuracy,
//          roc_auc_binary, roc_auc_ovr_macro, score_metrics, score_metrics_init,
//          score_metrics_free, score_metrics_reset, score_metrics_add, score_metrics_auc,
//          average_precision_binary, multilabel_metrics, multilabel_summary,
//          multilabel_metrics_init, multilabel_metrics_free, multilabel_metrics_reset,
//          multilabel_metrics_add, multilabel_metrics_summarize
// Classification metrics, accumulated over batches as int64 counts (so that
// ranks can sum them with one all-reduce of `counts`, and an epoch of any
// size never loses precision):
//   accuracy, top-k accuracy (k = 5 by default, min(k, V)), macro-F1,
//   per-class accuracy (recall), the confusion matrix (rows: true class,
//   columns: predicted) and its CSV.
// Ties: the prediction is the lowest index among equal maxima (torch.argmax);
// the label is in the top k when fewer than k classes rank above it, a class
// ranking above when its logit is larger, or equal with a lower index — so
// top-1 accuracy equals accuracy.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef struct {
    int64_t num_classes; // V
    int64_t k;           // for top-k, min(requested, V)
    int64_t *counts;     // [V*V + 2]: confusion [V, V] (true, predicted), then n, topk_correct
    int64_t *confusion;  // = counts
    int64_t *n;          // = counts + V*V: samples seen
    int64_t *topk_correct; // = counts + V*V + 1
} class_metrics;

ssm_code class_metrics_init(class_metrics *m, int64_t num_classes, int64_t k, ssm_error *err);
void class_metrics_free(class_metrics *m);
void class_metrics_reset(class_metrics *m);
static inline int64_t class_metrics_n_counts(const class_metrics *m) {
    return m->num_classes * m->num_classes + 2;
}

// Adds a batch: logits [B, V], labels [B]. A label outside [0, V) or a NaN
// logit -> SSM_EDATA naming the sample; nothing of that batch is counted then.
ssm_code class_metrics_add(class_metrics *m, const real *logits, const int32_t *labels, int64_t B,
                           ssm_error *err);
// Adds hard predictions only (no top-k information: counts top-k as top-1).
ssm_code class_metrics_add_predictions(class_metrics *m, const int32_t *pred,
                                       const int32_t *labels, int64_t B, ssm_error *err);
// dst += src (same num_classes and k).
ssm_code class_metrics_merge(class_metrics *dst, const class_metrics *src, ssm_error *err);

double class_metrics_accuracy(const class_metrics *m);      // NaN when n = 0
double class_metrics_topk_accuracy(const class_metrics *m); // NaN when n = 0
// Mean over classes of F1 = 2 TP / (2 TP + FP + FN), over the classes that
// occur as a label or a prediction (scikit-learn's f1_score(average="macro")
// with labels=None): a class never predicted but present has F1 = 0. NaN if n = 0.
double class_metrics_macro_f1(const class_metrics *m);
// out [V]: TP / (samples of that class), NaN for a class with no samples.
void class_metrics_per_class_accuracy(const class_metrics *m, double *out);
// The mean over classes of recall, over the classes that occur as a label (scikit-learn's
// balanced_accuracy_score: a class only predicted is left out). NaN when n = 0.
double class_metrics_balanced_accuracy(const class_metrics *m);

// Writes the confusion matrix as CSV: a header "true\pred,<name0>,...", then
// one row per true class "<name>,c0,c1,...". names [V] may be NULL (class
// indices are used). Names are quoted as CSV requires. Written to path.tmp
// and renamed, so an existing file is never left half-written.
ssm_code class_metrics_write_confusion_csv(const class_metrics *m, const char *path,
                                           const char *const *names, ssm_error *err);

// ---- named metrics, as a task reports them (metrics.jsonl, the summary line) ------

#define TASK_MAX_METRICS 12
#define TASK_METRIC_KEY_MAX 24

typedef struct {
    int n;
    char key[TASK_MAX_METRICS][TASK_METRIC_KEY_MAX];
    double value[TASK_MAX_METRICS];
    int64_t samples; // samples evaluated
} task_metrics;

// Sets key (adds it at the end the first time; order = order of metrics.jsonl).
void task_metrics_set(task_metrics *m, const char *key, double v);
double task_metrics_get(const task_metrics *m, const char *key); // NaN when absent

// ---- errors of real-valued predictions (forecast, regress) --------------------------
// Sums over the rows of pred and y [rows, K] of the squared and absolute errors on the
// dataset's (standardised) scale and on the original scale (column j's error times
// std[j], the dataset's scaler: its mean cancels in a difference), in double.

typedef struct {
    int64_t K;      // values per row
    double *std;    // [K] owned copy, or NULL (the original scale is the standardised one)
    double sse, sae, sse_orig, sae_orig;
    int64_t rows;
} value_metrics;

ssm_code value_metrics_init(value_metrics *v, int64_t K, const double *std, ssm_error *err);
void value_metrics_free(value_metrics *v);
void value_metrics_reset(value_metrics *v);
void value_metrics_add(value_metrics *v, const real *pred, const real *y, int64_t rows);
// loss (the criterion: mae when mae_loss, else mse), mse, mae, mse_orig, mae_orig:
// means over rows x K (NaN when empty).
void value_metrics_report(const value_metrics *v, int mae_loss, task_metrics *out);

// ---- ranking metrics: ROC AUC (MIL bags, CLAM's report) -----------------------------
// The area under the ROC curve of scores for a binary labelling, as the Mann-Whitney
// statistic: P(a positive scores above a negative) + P(they tie) / 2, with tied scores given
// their average rank (equal to scikit-learn's roc_auc_score, trapezoids over tied
// thresholds). positive[i] != 0 marks the positives. NaN when the labels hold only one side
// or a score is NaN. Needs O(n) scratch (allocated; NaN when out of memory).
double roc_auc_binary(const double *score, const uint8_t *positive, int64_t n);
// One-vs-rest macro AUC as CLAM reports it (core_utils.summary): for every class c, the
// binary AUC of prob[:, c] with label == c as the positives; the mean over the classes whose
// AUC is defined. A class absent from the labels (or the only one present) has none and is
// left out, as CLAM's nanmean does (scikit-learn's roc_auc_score(multi_class='ovr',
// average='macro') refuses such labels; with every class present the two agree).
// prob [n, V]; NaN when no class has an AUC.
double roc_auc_ovr_macro(const double *prob, const int32_t *labels, int64_t n, int64_t V);

// Class probabilities (softmax of the logits, in double) and labels kept over an
// evaluation, for the AUC (a rank statistic needs every score, not counts).
typedef struct {
    int64_t V, n, cap;
    double *prob;    // [cap, V]
    int32_t *labels; // [cap]
} score_metrics;

ssm_code score_metrics_init(score_metrics *s, int64_t num_classes, ssm_error *err);
void score_metrics_free(score_metrics *s);
void score_metrics_reset(score_metrics *s);
// Adds logits [B, V] and labels [B]; a label outside [0, V) or a NaN logit -> SSM_EDATA
// naming the sample (nothing of the batch is kept then).
ssm_code score_metrics_add(score_metrics *s, const real *logits, const int32_t *labels,
                           int64_t B, ssm_error *err);
// V = 2: roc_auc_binary of the class-1 probability (CLAM's binary AUC); else
// roc_auc_ovr_macro. NaN when undefined.
double score_metrics_auc(const score_metrics *s);

// ---- multi-label metrics (AST's calculate_stats: mAP, macro AUC) ----------------------
// The average precision of scores for a binary labelling, scikit-learn's
// average_precision_score: sum over the distinct score thresholds, highest first, of
// (recall gained) x (precision at that threshold); tied scores form one threshold. NaN
// when there is no positive or a score is NaN. O(n) scratch (NaN when out of memory).
double average_precision_binary(const double *score, const uint8_t *positive, int64_t n);

// Sigmoid probabilities and 0/1 targets kept over an evaluation (the ranks need every
// score). A target counts as positive when >= 0.5 (a mixed target of mixup is never
// evaluated; a multi-hot one is 0 or 1).
typedef struct {
    int64_t K, n, cap;
    double threshold; // micro-F1: a class is predicted when its probability >= threshold
    double *prob;     // [cap, K]
    uint8_t *target;  // [cap, K]
} multilabel_metrics;

typedef struct {
    double map;          // mean over the classes with a positive of their AP (NaN: none)
    double auc;          // mean over the classes with both label values of their ROC AUC
    double micro_f1;     // 2 TP / (2 TP + FP + FN) over every (sample, class) pair
    int64_t ap_classes;  // classes in the mAP (the others have no positive in the split)
    int64_t auc_classes; // classes in the AUC
} multilabel_summary;

ssm_code multilabel_metrics_init(multilabel_metrics *m, int64_t K, double threshold,
                                 ssm_error *err);
void multilabel_metrics_free(multilabel_metrics *m);
void multilabel_metrics_reset(multilabel_metrics *m);
// Adds logits [B, K] and targets [B, K]: a NaN logit or a target outside [0, 1] ->
// SSM_EDATA naming the sample and class (nothing of the batch is kept then).
ssm_code multilabel_metrics_add(multilabel_metrics *m, const real *logits, const real *targets,
                                int64_t B, ssm_error *err);
// The summary, and per class (each may be NULL): ap [K], auc [K] (NaN where undefined),
// positives [K].
void multilabel_metrics_summarize(const multilabel_metrics *m, multilabel_summary *s,
                                  double *ap, double *auc, int64_t *positives);
