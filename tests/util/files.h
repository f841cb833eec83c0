// defines: tu_mkdtemp, tu_rmtree, tu_path, tu_write_file, tu_write_text
// The suites' private temporary folders and the fixture files written into them.
#pragma once
#include <stddef.h>

// A new empty folder <$TMPDIR, or /tmp>/<tag>_XXXXXX, its path into dir[0..cap). Returns 0,
// or -1 when it cannot be made (main calls it outside any test: no assertion here).
int tu_mkdtemp(char *dir, size_t cap, const char *tag);
// Removes dir and everything below it, links not followed; folders a test left read-only
// are made writable first. Returns 0 (also when dir is already gone), or -1 when anything
// stayed.
int tu_rmtree(const char *dir);
// <dir>/<name> into out[0..cap).
void tu_path(char *out, size_t cap, const char *dir, const char *name);
// Writes n bytes of data to path, replacing it; fails the test if it cannot.
void tu_write_file(const char *path, const void *data, size_t n);
// The same for a NUL-terminated text.
void tu_write_text(const char *path, const char *text);
