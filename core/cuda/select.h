// defines: ssm_cuda_select
// Picks the GPU a process computes on (built with CUDA=1 only; core/device_select.h
// is the caller).
#pragma once
#include "core/error.h"

// Makes device `index` current for this host thread. SSM_EDEVICE with
// "no CUDA device was found" when there is none, or the count when index is too large.
ssm_code ssm_cuda_select(int index, ssm_error *err);
