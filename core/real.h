// defines: real, REAL_EPS, REAL_IS_DOUBLE
// The library is compiled twice: `real` = float for use, `real` = double
// (-DSSM_DOUBLE) for gradient checks, where finite differences in float are
// too noisy to catch small errors.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef SSM_DOUBLE
typedef double real;
#define REAL_EPS 2.220446049250313e-16
#define REAL_IS_DOUBLE 1
#else
typedef float real;
#define REAL_EPS 1.1920929e-07f
#define REAL_IS_DOUBLE 0
#endif
