// defines: ssm_cuda_select, ssm_cuda_describe
// Picks the GPU a process computes on (built with CUDA=1 only; core/device_select.h
// is the caller).
#pragma once
#include <stddef.h>

#include "core/error.h"

// Makes device `index` current for this host thread. SSM_EDEVICE with
// "no CUDA device was found" when there is none, or the count when index is too large.
// Also refuses, naming its compute capability and the build's architectures, a
// GPU this build has no code for.
ssm_code ssm_cuda_select(int index, ssm_error *err);
// The architectures built and each device (name, compute capability, memory, runs or not).
void ssm_cuda_describe(char *buf, size_t cap);
