// defines: ssm_packing_check, ssm_packing_max_len (see packing.h)
#include "core/packing.h"

#include <stddef.h>

ssm_code ssm_packing_check(const ssm_packing *pk, int64_t max_total, ssm_error *err) {
    if (!pk || pk->n < 1 || !pk->offsets)
        return ssm_fail(err, SSM_EINVAL, "packed batch: %s",
                        !pk ? "no packing" : pk->n < 1 ? "no sequences" : "no offsets");
    if (pk->offsets[0] != 0)
        return ssm_fail(err, SSM_EINVAL, "packed batch: offsets[0] is %lld, expected 0",
                        (long long)pk->offsets[0]);
    for (int64_t i = 0; i < pk->n; i++)
        if (pk->offsets[i + 1] <= pk->offsets[i])
            return ssm_fail(err, SSM_EINVAL,
                            pk->offsets[i + 1] == pk->offsets[i]
                                ? "packed batch: sequence %lld is empty (offset %lld)"
                                : "packed batch: sequence %lld starts at %lld and ends before it",
                            (long long)i, (long long)pk->offsets[i]);
    if (pk->offsets[pk->n] != pk->total)
        return ssm_fail(err, SSM_EINVAL, "packed batch: offsets end at %lld, total is %lld",
                        (long long)pk->offsets[pk->n], (long long)pk->total);
    if (max_total > 0 && pk->total > max_total)
        return ssm_fail(err, SSM_EINVAL, "packed batch of %lld tokens, the plan holds %lld",
                        (long long)pk->total, (long long)max_total);
    return SSM_OK;
}

int64_t ssm_packing_max_len(const ssm_packing *pk) {
    int64_t m = 0;
    for (int64_t i = 0; i < pk->n; i++)
        if (pk->offsets[i + 1] - pk->offsets[i] > m)
            m = pk->offsets[i + 1] - pk->offsets[i];
    return m;
}
