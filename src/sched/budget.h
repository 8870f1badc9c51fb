/* SPDX-License-Identifier: MIT */
/*
 * budget: the memory policy, as a pure function.
 *
 * Given the memory pools (one per GPU, or one for a unified-memory machine
 * such as the DGX Spark), what every engine holds in them now, and an
 * engine that wants to load, budget_decide() answers one of: start it now;
 * stop these idle engines first (least recently used first, never one with
 * requests in flight, never a pinned one); wait, because busy engines hold
 * the memory; or never, because even with everything evictable gone it
 * cannot fit. It decides by bytes, never by a count of models.
 *
 * DESIGN
 * No state, no clock, no allocation beyond the caller's arrays: the
 * scheduler (sched.c) owns the engines and applies the verdict; the unit
 * tests drive this function with tables of scenarios. An engine that is
 * loading or stopping still holds its bytes (a stop is over only when the
 * process has exited), so two decisions can never promise the same memory.
 */
#ifndef HERMOD_BUDGET_H
#define HERMOD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define BUDGET_MAX_POOLS 16
#define BUDGET_MAX_VICTIMS 64

enum budget_hold {
    BUDGET_IDLE,     /* resident, nothing in flight: may be evicted */
    BUDGET_BUSY,     /* requests in flight (or draining): not now */
    BUDGET_LOADING,  /* starting up */
    BUDGET_STOPPING, /* stopped, not yet exited */
    BUDGET_PINNED,   /* never evicted */
};

struct budget_item {
    const char *name;      /* for messages: "model@kind" */
    const char *group;     /* members of a group exclude each other, or NULL */
    int pool;              /* index into the pools */
    uint64_t bytes;        /* what it holds now */
    enum budget_hold hold;
    uint64_t last_used;    /* larger = more recent (any monotonic unit) */
};

struct budget_pool {
    const char *name;      /* "system", "gpu0", ... */
    uint64_t capacity;     /* usable bytes: total minus reserved */
};

enum budget_verdict {
    BUDGET_START,          /* fits now, in out->pool */
    BUDGET_EVICT,          /* stop out->victims, then ask again */
    BUDGET_WAIT,           /* busy engines hold what is missing */
    BUDGET_NEVER,          /* cannot fit even with everything evictable gone */
};

struct budget_want {
    const char *name;
    const char *group;     /* or NULL */
    uint64_t bytes;        /* peak needed while loading */
    int pool;              /* pinned to this pool, or -1 for any */
};

struct budget_decision {
    enum budget_verdict verdict;
    int pool;              /* START/EVICT: where; WAIT/NEVER: the best candidate */
    size_t victims[BUDGET_MAX_VICTIMS]; /* EVICT: item indexes, LRU first */
    size_t nvictims;
    size_t busy[BUDGET_MAX_VICTIMS];    /* WAIT: busy items that would have to finish */
    size_t nbusy;
    uint64_t free_now;     /* in the chosen pool */
    uint64_t missing;      /* NEVER/WAIT: bytes short */
};

/*
 * Decides where and whether `want` can load. items[i].pool must be a valid
 * pool index. Group rule: an engine of another model in the same group is
 * always a victim (or a reason to wait), whatever the memory. Writes a
 * sentence for people about a WAIT or NEVER into why (may be NULL).
 */
void budget_decide(const struct budget_pool *pools, size_t npools,
                   const struct budget_item *items, size_t nitems,
                   const struct budget_want *want, struct budget_decision *out,
                   struct buf *why);

/* Sum of bytes items hold in pool p. */
uint64_t budget_used(const struct budget_item *items, size_t nitems, int p);

#endif
