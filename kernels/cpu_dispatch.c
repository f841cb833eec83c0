// defines: the public names of the kernels in kernels/cpu_kernels.def, and
//          everything kernels/cpu_dispatch.h declares
// The Makefile compiles each hot kernel file once per variant and renames its
// functions NAME_<variant>; this file defines NAME as a call through the
// selected variant's table. One indirect call per kernel call: nothing next
// to the work a kernel does.
#include "kernels/cpu_dispatch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/conv1d.h"
#include "kernels/norm.h"
#include "kernels/permute.h"
#include "kernels/scan.h"

typedef struct {
#define SSM_KERNEL(ret, name, params, args) ret(*name) params;
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
} cpu_kernel_table;

#define SSM_KERNEL(ret, name, params, args) ret name##_generic params;
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
static const cpu_kernel_table table_generic = {
#define SSM_KERNEL(ret, name, params, args) .name = name##_generic,
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
};

#ifdef SSM_CPU_HAVE_AVX2
#define SSM_KERNEL(ret, name, params, args) ret name##_avx2 params;
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
static const cpu_kernel_table table_avx2 = {
#define SSM_KERNEL(ret, name, params, args) .name = name##_avx2,
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
};
#endif

#ifdef SSM_CPU_HAVE_AVX512
#define SSM_KERNEL(ret, name, params, args) ret name##_avx512 params;
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
static const cpu_kernel_table table_avx512 = {
#define SSM_KERNEL(ret, name, params, args) .name = name##_avx512,
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL
};
#endif

static const cpu_kernel_table *const tables[SSM_CPU_N_VARIANTS] = {
    [SSM_CPU_GENERIC] = &table_generic,
#ifdef SSM_CPU_HAVE_AVX2
    [SSM_CPU_AVX2] = &table_avx2,
#endif
#ifdef SSM_CPU_HAVE_AVX512
    [SSM_CPU_AVX512] = &table_avx512,
#endif
};

static const char *const variant_names[SSM_CPU_N_VARIANTS] = {"generic", "avx2", "avx512"};
static const char *const variant_isa[SSM_CPU_N_VARIANTS] = {
    "baseline ISA, portable vector layer", "AVX2 + FMA, 8 lanes", "AVX-512 F/DQ/BW/VL, 16 lanes"};
// The CPU features each variant's objects are compiled with (VFLAGS_* in the Makefile).
static const char *const variant_needs[SSM_CPU_N_VARIANTS] = {
    "", "avx2 fma", "avx512f avx512dq avx512bw avx512vl avx2 fma"};

// Process-wide state, written at load and by ssm_cpu_select* only.
static ssm_cpu_variant active = SSM_CPU_GENERIC;
static unsigned feature_mask = ~0u; // tests: variants treated as unsupported
static char env_error[sizeof(((ssm_error *)0)->msg)];         // what was wrong with SSMKIT_CPU at load, if anything

static int cpu_has(const char *feature) {
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports needs literal names
    if (!strcmp(feature, "avx2"))
        return __builtin_cpu_supports("avx2");
    if (!strcmp(feature, "fma"))
        return __builtin_cpu_supports("fma");
    if (!strcmp(feature, "avx512f"))
        return __builtin_cpu_supports("avx512f");
    if (!strcmp(feature, "avx512dq"))
        return __builtin_cpu_supports("avx512dq");
    if (!strcmp(feature, "avx512bw"))
        return __builtin_cpu_supports("avx512bw");
    if (!strcmp(feature, "avx512vl"))
        return __builtin_cpu_supports("avx512vl");
#endif
    (void)feature;
    return 0;
}

// The features of v this CPU lacks, space-separated, into buf ("" when none).
static void missing_features(ssm_cpu_variant v, char *buf, size_t cap) {
    char need[128];
    snprintf(need, sizeof need, "%s", variant_needs[v]);
    buf[0] = 0;
    size_t len = 0;
    for (char *save = NULL, *f = strtok_r(need, " ", &save); f; f = strtok_r(NULL, " ", &save))
        if (!cpu_has(f) || !(feature_mask >> v & 1u))
            len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", len ? " " : "", f);
}

const char *ssm_cpu_variant_name(ssm_cpu_variant v) {
    return v >= 0 && v < SSM_CPU_N_VARIANTS ? variant_names[v] : "?";
}

int ssm_cpu_compiled(ssm_cpu_variant v) { return v >= 0 && v < SSM_CPU_N_VARIANTS && tables[v]; }

int ssm_cpu_supported(ssm_cpu_variant v) {
    if (!ssm_cpu_compiled(v))
        return 0;
    char miss[128];
    missing_features(v, miss, sizeof miss);
    return miss[0] == 0;
}

ssm_cpu_variant ssm_cpu_best(void) {
    for (int v = SSM_CPU_N_VARIANTS - 1; v > 0; v--)
        if (ssm_cpu_supported((ssm_cpu_variant)v))
            return (ssm_cpu_variant)v;
    return SSM_CPU_GENERIC;
}

ssm_code ssm_cpu_variant_parse(const char *name, ssm_cpu_variant *out, ssm_error *err) {
    if (!name || !*name || !strcmp(name, "auto")) {
        *out = ssm_cpu_best();
        return SSM_OK;
    }
    for (int v = 0; v < SSM_CPU_N_VARIANTS; v++)
        if (!strcmp(name, variant_names[v])) {
            *out = (ssm_cpu_variant)v;
            return SSM_OK;
        }
    return ssm_fail(err, SSM_EINVAL,
                    "SSMKIT_CPU=%s: unknown CPU variant (expected generic, avx2, avx512 or auto)",
                    name);
}

ssm_code ssm_cpu_select(ssm_cpu_variant v, ssm_error *err) {
    if (v < 0 || v >= SSM_CPU_N_VARIANTS)
        return ssm_fail(err, SSM_EINVAL, "CPU variant %d out of range", (int)v);
    if (!ssm_cpu_compiled(v))
        return ssm_fail(err, SSM_EINVAL,
                        "CPU variant %s is not built into this binary (a non-x86 build has "
                        "generic only)", variant_names[v]);
    char miss[128];
    missing_features(v, miss, sizeof miss);
    if (miss[0])
        return ssm_fail(err, SSM_EINVAL,
                        "CPU variant %s needs CPU features this machine lacks: %s (best here: %s)",
                        variant_names[v], miss, variant_names[ssm_cpu_best()]);
    active = v;
    return SSM_OK;
}

ssm_code ssm_cpu_select_env(ssm_error *err) {
#if REAL_IS_DOUBLE
    // the double build (finite-difference gradient checks) carries the generic
    // variant only: what SSMKIT_CPU asks of the float kernels does not apply
    (void)err;
    return SSM_OK;
#endif
    const char *want = getenv("SSMKIT_CPU");
    ssm_cpu_variant v = SSM_CPU_GENERIC;
    SSM_TRY(ssm_cpu_variant_parse(want, &v, err));
    const ssm_code rc = ssm_cpu_select(v, err);
    if (rc)
        ssm_error_prefix(err, "SSMKIT_CPU=%s: ", want);
    return rc;
}

ssm_cpu_variant ssm_cpu_active(void) { return active; }

void ssm_cpu_describe(char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "%s (%s; supported here:", variant_names[active],
                                  variant_isa[active]);
    for (int v = 0; v < SSM_CPU_N_VARIANTS; v++)
        if (ssm_cpu_supported((ssm_cpu_variant)v))
            len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, " %s", variant_names[v]);
    snprintf(buf + len, len < cap ? cap - len : 0, ")");
}

void ssm_cpu_set_feature_mask(unsigned mask) {
    feature_mask = mask | 1u; // generic always runs
    active = ssm_cpu_best();
}

// At load: SSMKIT_CPU when valid and supported, else the best. A bad value is
// kept for ssm_cpu_select_env to report (library code does not print or exit).
__attribute__((constructor)) static void cpu_dispatch_init(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#endif
    active = ssm_cpu_best();
    ssm_error e = {0};
    if (ssm_cpu_select_env(&e))
        snprintf(env_error, sizeof env_error, "%s", e.msg);
}

// ---------------------------------------------------------------- the public names

#define SSM_KERNEL(ret, name, params, args) \
    ret name params { return tables[active]->name args; }
#include "kernels/cpu_kernels.def"
#undef SSM_KERNEL

// The largest over the variants this CPU runs: a workspace planned now stays
// big enough whichever of them is selected later.
size_t selective_scan_workspace_size(const scan_shape *s, int n_threads) {
    size_t most = 0;
    for (int v = 0; v < SSM_CPU_N_VARIANTS; v++)
        if (ssm_cpu_supported((ssm_cpu_variant)v)) {
            const size_t n = tables[v]->selective_scan_variant_workspace_size(s, n_threads);
            most = n > most ? n : most;
        }
    return most;
}
