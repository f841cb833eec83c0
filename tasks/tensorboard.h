// defines: tb_writer, tb_open, tb_scalar, tb_close, tb_crc32c
// A TensorBoard event file (events.out.tfevents.*) with scalar summaries, so
// `tensorboard --logdir runs/` shows a run's curves. The file is a sequence of
// TFRecords (u64 length, masked CRC-32C of the length, an Event protobuf,
// masked CRC-32C of the data); the few protobuf fields a scalar needs are
// encoded here by hand. CRC-32C (Castagnoli) is computed here too: zlib has
// only the IEEE polynomial, and Debian packages no C library for it.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct {
    FILE *f;
    char path[1024];
} tb_writer;

// Creates <dir>/events.out.tfevents.<unix time>.ssmkit and writes the
// file-version record. Records are flushed as written.
ssm_code tb_open(tb_writer *w, const char *dir, ssm_error *err);
// One scalar point: tag ("train/loss"), value, step.
ssm_code tb_scalar(tb_writer *w, const char *tag, double value, int64_t step, ssm_error *err);
void tb_close(tb_writer *w);

uint32_t tb_crc32c(const void *data, size_t n);
