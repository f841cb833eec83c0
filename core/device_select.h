// defines: ssm_device, ssm_device_kind, ssm_device_parse, ssm_device_open, ssm_device_name,
//          ssm_device_describe_gpus, SSM_HAVE_CUDA
// Where a model computes (run.device): the CPU, or one CUDA GPU. Parsing and the
// availability checks live here, in plain C, so that a CPU-only build refuses
// `run.device: cuda` with a clear message instead of failing to link.
#pragma once
#include <stddef.h>

#include "core/error.h"

// 1 where this object file is linked with the CUDA objects: a CUDA=1 build, except its
// double-precision (check-grad) and sanitized (ASan) libraries, which carry no device code.
// Plain room code tests this, never SSM_CUDA alone.
#if defined(SSM_CUDA) && !defined(SSM_DOUBLE) && !defined(__SANITIZE_ADDRESS__)
#define SSM_HAVE_CUDA 1
#else
#define SSM_HAVE_CUDA 0
#endif

typedef enum { SSM_DEVICE_CPU = 0, SSM_DEVICE_CUDA } ssm_device_kind;

typedef struct {
    ssm_device_kind kind; // zero-initialised = the CPU
    int index;            // CUDA device ordinal (cuda = cuda:0)
} ssm_device;

// "cpu", "cuda", "cuda:N" (N a device ordinal) -> *d; anything else SSM_ECONFIG.
ssm_code ssm_device_parse(ssm_device *d, const char *s, ssm_error *err);
// Checks the device can be used and makes it current for this host thread:
// the CPU always; CUDA only in a build with CUDA=1 (else SSM_EDEVICE "built without
// CUDA"), with a device present (else "no CUDA device was found") and index < count.
ssm_code ssm_device_open(const ssm_device *d, ssm_error *err);
// The CUDA side of `ssmkit info`: architectures built, devices seen (or "not in this build").
void ssm_device_describe_gpus(char *buf, size_t cap);
// "cpu", "cuda:0", ... into buf.
const char *ssm_device_name(const ssm_device *d, char *buf, size_t n);
