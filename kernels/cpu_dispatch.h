// defines: ssm_cpu_variant, ssm_cpu_variant_name, ssm_cpu_variant_parse, ssm_cpu_compiled,
//          ssm_cpu_supported, ssm_cpu_best, ssm_cpu_select, ssm_cpu_select_env, ssm_cpu_active,
//          ssm_cpu_describe, ssm_cpu_set_feature_mask
// Which CPU variant of the hot kernels runs. The kernels listed in
// kernels/cpu_kernels.def are compiled once per variant (generic: baseline
// ISA and the portable vector layer; avx2: AVX2 + FMA, 8 lanes; avx512:
// AVX-512 F/DQ/BW/VL, 16 lanes) and their public names call the selected one.
//
// At load the best variant the CPU supports is selected, or the one the
// SSMKIT_CPU environment variable names (generic | avx2 | avx512 | auto);
// an unknown or unsupported name leaves the best one selected and is reported
// by ssm_cpu_select_env, which the CLI calls first (and exits on). The double
// build (gradient checks) has the generic variant only and ignores SSMKIT_CPU. The choice
// is process-wide: change it only outside parallel regions and between steps
// (tests compare variants this way).
#pragma once
#include <stddef.h>

#include "core/error.h"

typedef enum { SSM_CPU_GENERIC, SSM_CPU_AVX2, SSM_CPU_AVX512, SSM_CPU_N_VARIANTS } ssm_cpu_variant;

const char *ssm_cpu_variant_name(ssm_cpu_variant v); // "generic", "avx2", "avx512"
// "auto" gives the best supported variant. SSM_EINVAL with the allowed names otherwise.
ssm_code ssm_cpu_variant_parse(const char *name, ssm_cpu_variant *out, ssm_error *err);
int ssm_cpu_compiled(ssm_cpu_variant v);  // built into this binary
int ssm_cpu_supported(ssm_cpu_variant v); // compiled, and this CPU (and OS) runs it
ssm_cpu_variant ssm_cpu_best(void);       // the fastest supported variant
// Refuses (SSM_EINVAL, naming the missing CPU features) a variant not supported.
ssm_code ssm_cpu_select(ssm_cpu_variant v, ssm_error *err);
// Selects what SSMKIT_CPU asks for (the best when unset, empty or "auto").
ssm_code ssm_cpu_select_env(ssm_error *err);
ssm_cpu_variant ssm_cpu_active(void);
// One line: "avx512 (AVX-512 F/DQ/BW/VL, 16 lanes; supported: generic avx2 avx512)".
void ssm_cpu_describe(char *buf, size_t cap);
// Tests only: pretend the CPU lacks the features of the variants not in mask
// (bit v = variant v); ~0u restores the real CPU. Selects the best left.
void ssm_cpu_set_feature_mask(unsigned mask);
