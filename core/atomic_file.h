// defines: ssm_atomic_file, ssm_atomic_open, ssm_atomic_write, ssm_atomic_commit,
//          ssm_atomic_abort, ssm_write_file_atomic, ssm_atomic_remove_leftovers
// Files that must never be seen half-written (checkpoints, the resolved
// config; DESIGN.md invariants 7 and 9): bytes go to a temp file in the same
// directory, which is flushed, fsync'd and renamed over the target, and then
// the directory is fsync'd so the rename itself survives a crash. Any failure
// removes the temp file and leaves whatever was at the target untouched.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

typedef struct {
    FILE *f;
    char path[4096]; // the target
    char tmp[4096];  // the temp file beside it
    int failed;      // a write failed: commit refuses
} ssm_atomic_file;

ssm_code ssm_atomic_open(ssm_atomic_file *a, const char *path, ssm_error *err);
// Checked fwrite; on failure the file is marked failed and the error names the target.
ssm_code ssm_atomic_write(ssm_atomic_file *a, const void *buf, size_t n, ssm_error *err);
// fflush, fsync, close, rename, fsync the directory. On failure: abort.
ssm_code ssm_atomic_commit(ssm_atomic_file *a, ssm_error *err);
// Closes and removes the temp file; the target is untouched. Safe to call twice.
void ssm_atomic_abort(ssm_atomic_file *a);

// Removes the temp files a killed writer left in dir (the names ssm_atomic_open makes:
// .<name>.<pid>.<k>.tmp) and returns how many; call it only on a folder no other process
// is writing (a resumed run's folder).
int ssm_atomic_remove_leftovers(const char *dir);

// The whole of buf as one atomic file.
ssm_code ssm_write_file_atomic(const char *path, const void *buf, size_t n, ssm_error *err);
