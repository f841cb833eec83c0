// defines: series_adapter_orders, series_adapter_revin_options, series_adapter_check_input,
//          series_adapter_time_features, series_adapter_dropout (see series_common.h)
#include "adapters/series_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ssm_code series_adapter_orders(ssm_adapter *a, const ssm_adapter_options *opt, int64_t L,
                               int32_t **base, const char *adapter, ssm_error *err) {
    static const char *const defaults[] = {"forward", "reverse"};
    a->n_orders = opt->n_orders ? opt->n_orders : 2;
    *base = malloc((size_t)a->n_orders * (size_t)L * sizeof **base);
    if (!*base)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", adapter);
    for (int o = 0; o < a->n_orders; o++) {
        const char *name = opt->n_orders ? opt->orders[o] : defaults[o];
        int rev = strcmp(name, "reverse") == 0;
        // "row" (the config's default order) is the forward scan of a one-row sequence
        if (!rev && strcmp(name, "forward") != 0 && strcmp(name, "row") != 0)
            return ssm_fail(err, SSM_ECONFIG,
                            "%s: unknown scan order '%s'; known: forward (or row), reverse", adapter,
                            name);
        for (int64_t l = 0; l < L; l++)
            (*base)[(size_t)o * L + l] = (int32_t)(rev ? L - 1 - l : l);
        snprintf(a->order_names[o], sizeof a->order_names[o], "%s", name);
    }
    return SSM_OK;
}

static ssm_code flag(const ssm_adapter_options *opt, const char *adapter, const char *key, int *out,
                     ssm_error *err) {
    int64_t v;
    SSM_TRY(ssm_adapter_option_int(opt, adapter, key, 0, &v, err));
    if (v != 0 && v != 1)
        return ssm_fail(err, SSM_ECONFIG, "%s: option %s = %lld, expected 0 or 1", adapter, key,
                        (long long)v);
    *out = (int)v;
    return SSM_OK;
}

ssm_code series_adapter_revin_options(const ssm_adapter_options *opt, const char *adapter,
                                      int *revin, int *affine, ssm_error *err) {
    SSM_TRY(flag(opt, adapter, "revin", revin, err));
    SSM_TRY(flag(opt, adapter, "revin_affine", affine, err));
    if (*affine && !*revin)
        return ssm_fail(err, SSM_ECONFIG, "%s: revin_affine = 1 needs revin = 1", adapter);
    return SSM_OK;
}

ssm_code series_adapter_check_input(const ssm_adapter_options *opt, const ssm_input_shape *in,
                                    const char *adapter, ssm_error *err) {
    static const char *const known[] = {"revin", "revin_affine", "time_features", "dropout",
                                        NULL};
    SSM_TRY(ssm_adapter_check_options(opt, adapter, known, err));
    if (in->ndim != 2 || in->dims[0] < 1 || in->dims[1] < 1) {
        char s[96];
        ssm_shape_str(s, sizeof s, in->ndim, in->dims);
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape %s, expected [lookback, variates]",
                        adapter, s);
    }
    if (opt->cls_token != SSM_CLS_DEFAULT && opt->cls_token != SSM_CLS_NONE)
        return ssm_fail(err, SSM_ECONFIG, "%s: cls_token = %s, only none is supported (pool by mean)",
                        adapter, ssm_cls_position_name(opt->cls_token));
    return SSM_OK;
}

ssm_code series_adapter_time_features(const ssm_adapter_options *opt, const char *adapter,
                                      int64_t V, int64_t *F, ssm_error *err) {
    SSM_TRY(ssm_adapter_option_int(opt, adapter, "time_features", 0, F, err));
    if (*F < 0 || *F >= V)
        return ssm_fail(err, SSM_ECONFIG,
                        "%s: option time_features = %lld of the input's %lld columns, expected "
                        "0 .. %lld (the calendar columns come first, then at least one variate)",
                        adapter, (long long)*F, (long long)V, (long long)(V - 1));
    return SSM_OK;
}

ssm_code series_adapter_dropout(const ssm_adapter_options *opt, const char *adapter, double *p,
                                ssm_error *err) {
    SSM_TRY(ssm_adapter_option_double(opt, adapter, "dropout", 0, p, err));
    if (!(*p >= 0 && *p < 1))
        return ssm_fail(err, SSM_ECONFIG, "%s: option dropout = %g, expected a probability in "
                        "[0, 1)", adapter, *p);
    return SSM_OK;
}
