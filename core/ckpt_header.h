// defines: ssm_ckpt_header_parse, ssm_ckpt_json_string
// Internal to core/checkpoint.c and tests: the safetensors JSON header, read
// by a small strict parser that accepts exactly this format (an object of
// tensor entries and one optional "__metadata__" object of strings), and the
// string escaping used to write it.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/checkpoint.h"

// Parses json[0..n) (the header after the 8-byte length) into *info and checks
// every tensor against a data section of data_len bytes: known dtype, shape x
// dtype size = its byte range, ranges inside the data, no overlaps, no
// uncovered bytes. `file` names the file in messages. On error *info is empty.
ssm_code ssm_ckpt_header_parse(const char *file, const char *json, size_t n, uint64_t data_len,
                               ssm_ckpt_info *info, ssm_error *err);

// Writes s as a JSON string literal (quotes included).
void ssm_ckpt_json_string(FILE *f, const char *s);
