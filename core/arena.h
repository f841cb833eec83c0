// defines: ssm_arena, ssm_arena_take, ssm_arena_commit, ssm_arena_reset
// Planned activations (DESIGN.md invariant 4): a model lays out its
// activations by calling ssm_arena_take in a fixed order. The first pass runs
// in "measure" mode (no memory; take returns NULL and only counts bytes);
// ssm_arena_commit allocates exactly that much once; a second pass with the
// same calls hands out real pointers. No malloc in the training step, and no
// size for the user to guess.
#pragma once
#include <stddef.h>

#include "core/error.h"

typedef struct {
    char *base;      // NULL while measuring
    size_t capacity; // bytes allocated
    size_t used;     // bytes handed out (or counted) so far
    size_t peak;     // largest `used` seen
} ssm_arena;

void ssm_arena_init(ssm_arena *a); // starts in measure mode
void ssm_arena_free(ssm_arena *a);

// Returns `bytes` (64-byte aligned) or NULL while measuring / when full.
void *ssm_arena_take(ssm_arena *a, size_t bytes);

// Allocates the measured peak and rewinds for the second pass.
ssm_code ssm_arena_commit(ssm_arena *a, ssm_error *err);

static inline size_t ssm_arena_mark(const ssm_arena *a) { return a->used; }
static inline void ssm_arena_release(ssm_arena *a, size_t mark) { a->used = mark; }
static inline void ssm_arena_reset(ssm_arena *a) { a->used = 0; }
static inline int ssm_arena_measuring(const ssm_arena *a) { return a->base == NULL; }
