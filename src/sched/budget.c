/* SPDX-License-Identifier: MIT */
/*
 * budget.c: the memory policy. See budget.h for the contract.
 *
 * Per candidate pool, memory falls into: free; held by engines already
 * stopping (free soon); held by idle engines (can be freed by stopping
 * them); held by busy or loading engines (free only later); pinned (never).
 * The verdict is the cheapest step that makes room, in that order.
 */
#include "sched/budget.h"

#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

uint64_t budget_used(const struct budget_item *items, size_t nitems, int p)
{
    uint64_t u = 0;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].pool == p)
            u += items[i].bytes;
    return u;
}

static bool same_group(const struct budget_item *it, const struct budget_want *w)
{
    return w->group && it->group && !strcmp(w->group, it->group) &&
           strcmp(it->name, w->name) != 0;
}

struct plan {
    enum budget_verdict verdict;
    int pool;
    size_t victims[BUDGET_MAX_VICTIMS];
    size_t nvictims;
    uint64_t evicted;
    size_t busy[BUDGET_MAX_VICTIMS];
    size_t nbusy;
    uint64_t free_now;
    uint64_t missing;
    bool group_blocked;    /* a pinned group member: never */
};

/* Indexes of items with hold h in pool p (any pool if p < 0), LRU first. */
static size_t collect(const struct budget_item *items, size_t n, int p, enum budget_hold h,
                      size_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        if (items[i].hold != h || (p >= 0 && items[i].pool != p))
            continue;
        size_t j = k++;
        while (j > 0 && items[out[j - 1]].last_used > items[i].last_used) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return k;
}

static bool in_list(const size_t *v, size_t n, size_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static void plan_pool(const struct budget_pool *pool, int p, const struct budget_item *items,
                      size_t n, const struct budget_want *w, struct plan *pl)
{
    memset(pl, 0, sizeof(*pl));
    pl->pool = p;
    uint64_t used = budget_used(items, n, p);
    uint64_t cap = pool->capacity;
    uint64_t free_now = used < cap ? cap - used : 0;
    uint64_t stopping = 0, idle = 0, busy = 0, pinned = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].pool != p)
            continue;
        switch (items[i].hold) {
        case BUDGET_STOPPING: stopping += items[i].bytes; break;
        case BUDGET_IDLE: idle += items[i].bytes; break;
        case BUDGET_BUSY:
        case BUDGET_LOADING: busy += items[i].bytes; break;
        case BUDGET_PINNED: pinned += items[i].bytes; break;
        }
    }
    pl->free_now = free_now;

    /* Group members of other models must go first, wherever they are. */
    bool group_wait = false;
    for (size_t i = 0; i < n; i++) {
        if (!same_group(&items[i], w))
            continue;
        if (items[i].hold == BUDGET_PINNED) {
            pl->group_blocked = true;
        } else if (items[i].hold == BUDGET_IDLE) {
            if (pl->nvictims < BUDGET_MAX_VICTIMS) {
                pl->victims[pl->nvictims++] = i;
                if (items[i].pool == p)
                    pl->evicted += items[i].bytes;
            }
        } else {
            group_wait = true;
            if (pl->nbusy < BUDGET_MAX_VICTIMS && items[i].hold != BUDGET_STOPPING)
                pl->busy[pl->nbusy++] = i;
        }
    }
    if (pl->group_blocked || (cap >= pinned && w->bytes > cap - pinned) || cap < pinned) {
        pl->verdict = BUDGET_NEVER;
        uint64_t room = cap > pinned ? cap - pinned : 0;
        pl->missing = w->bytes > room ? w->bytes - room : 0;
        return;
    }
    /* Enough free already (counting what group victims give back)? */
    if (!group_wait && w->bytes <= free_now + pl->evicted && !pl->nvictims) {
        pl->verdict = BUDGET_START;
        return;
    }
    if (!group_wait && w->bytes <= free_now + pl->evicted) {
        pl->verdict = BUDGET_EVICT;
        return;
    }
    /* Engines already stopping will give back their bytes: wait for them
     * rather than stop more. */
    if (w->bytes <= free_now + stopping + pl->evicted) {
        pl->verdict = pl->nvictims ? BUDGET_EVICT : BUDGET_WAIT;
        return;
    }
    /* Stop idle engines, least recently used first, until it fits. */
    size_t lru[BUDGET_MAX_VICTIMS];
    size_t k = collect(items, n, p, BUDGET_IDLE, lru, BUDGET_MAX_VICTIMS);
    for (size_t j = 0; j < k && w->bytes > free_now + stopping + pl->evicted; j++) {
        if (in_list(pl->victims, pl->nvictims, lru[j]) || pl->nvictims >= BUDGET_MAX_VICTIMS)
            continue;
        pl->victims[pl->nvictims++] = lru[j];
        pl->evicted += items[lru[j]].bytes;
    }
    if (w->bytes <= free_now + stopping + pl->evicted) {
        pl->verdict = group_wait ? BUDGET_WAIT : BUDGET_EVICT;
        if (group_wait)
            pl->nvictims = 0;
        return;
    }
    /* Only busy or loading engines hold the rest: wait for them, and say
     * which ones (least recently used first: those drain first). */
    pl->verdict = BUDGET_WAIT;
    pl->nvictims = 0;
    uint64_t have = free_now + stopping + idle;
    size_t b[BUDGET_MAX_VICTIMS];
    size_t kb = collect(items, n, p, BUDGET_BUSY, b, BUDGET_MAX_VICTIMS);
    for (size_t j = 0; j < kb && w->bytes > have; j++) {
        if (!in_list(pl->busy, pl->nbusy, b[j]) && pl->nbusy < BUDGET_MAX_VICTIMS)
            pl->busy[pl->nbusy++] = b[j];
        have += items[b[j]].bytes;
    }
    kb = collect(items, n, p, BUDGET_LOADING, b, BUDGET_MAX_VICTIMS);
    for (size_t j = 0; j < kb && w->bytes > have; j++)
        have += items[b[j]].bytes;
    pl->missing = w->bytes > free_now + stopping + idle ? w->bytes - free_now - stopping - idle
                                                        : 0;
    (void)busy;
}

static int rank(const struct plan *pl)
{
    switch (pl->verdict) {
    case BUDGET_START: return 0;
    case BUDGET_EVICT: return 1;
    case BUDGET_WAIT: return 2;
    default: return 3;
    }
}

static void describe(const struct budget_pool *pools, const struct budget_item *items,
                     size_t nitems, const struct budget_want *w, const struct plan *pl,
                     struct buf *why)
{
    char a[32], b[32], c[32];
    const struct budget_pool *pool = &pools[pl->pool];
    if (pl->verdict == BUDGET_NEVER) {
        if (pl->group_blocked) {
            buf_addf(why, "%s is in group '%s' with a pinned model:", w->name, w->group);
            for (size_t i = 0; i < nitems; i++)
                if (same_group(&items[i], w) && items[i].hold == BUDGET_PINNED)
                    buf_addf(why, " %s", items[i].name);
            return;
        }
        uint64_t pinned = 0;
        for (size_t i = 0; i < nitems; i++)
            if (items[i].pool == pl->pool && items[i].hold == BUDGET_PINNED)
                pinned += items[i].bytes;
        buf_addf(why, "%s needs %s but %s has %s for engines", w->name,
                 str_fmt_size(w->bytes, a, sizeof(a)), pool->name,
                 str_fmt_size(pool->capacity, b, sizeof(b)));
        if (pinned) {
            buf_addf(why, ", of which pinned models hold %s (",
                     str_fmt_size(pinned, c, sizeof(c)));
            bool first = true;
            for (size_t i = 0; i < nitems; i++)
                if (items[i].pool == pl->pool && items[i].hold == BUDGET_PINNED) {
                    buf_addf(why, "%s%s %s", first ? "" : ", ", items[i].name,
                             str_fmt_size(items[i].bytes, a, sizeof(a)));
                    first = false;
                }
            buf_addch(why, ')');
        }
        buf_addf(why, ": %s missing", str_fmt_size(pl->missing, a, sizeof(a)));
        return;
    }
    if (pl->verdict == BUDGET_WAIT) {
        buf_addf(why, "%s needs %s, %s has %s free; waiting for", w->name,
                 str_fmt_size(w->bytes, a, sizeof(a)), pool->name,
                 str_fmt_size(pl->free_now, b, sizeof(b)));
        if (!pl->nbusy)
            buf_addstr(why, " engines that are stopping or loading");
        for (size_t i = 0; i < pl->nbusy; i++)
            buf_addf(why, "%s %s (%s)", i ? "," : "", items[pl->busy[i]].name,
                     str_fmt_size(items[pl->busy[i]].bytes, a, sizeof(a)));
    }
}

void budget_decide(const struct budget_pool *pools, size_t npools,
                   const struct budget_item *items, size_t nitems,
                   const struct budget_want *want, struct budget_decision *out,
                   struct buf *why)
{
    struct plan best, cur;
    bool have = false;
    ASSERT(npools > 0 && npools <= BUDGET_MAX_POOLS);
    for (size_t p = 0; p < npools; p++) {
        if (want->pool >= 0 && (size_t)want->pool != p)
            continue;
        plan_pool(&pools[p], (int)p, items, nitems, want, &cur);
        bool better = !have || rank(&cur) < rank(&best);
        if (have && rank(&cur) == rank(&best)) {
            /* ties: start where most stays free; evict the fewest bytes;
             * otherwise the smaller shortfall */
            if (cur.verdict == BUDGET_START)
                better = cur.free_now > best.free_now;
            else if (cur.verdict == BUDGET_EVICT)
                better = cur.evicted < best.evicted;
            else
                better = cur.missing < best.missing;
        }
        if (better) {
            best = cur;
            have = true;
        }
    }
    if (!have) {
        /* pinned to a pool that does not exist */
        memset(out, 0, sizeof(*out));
        out->verdict = BUDGET_NEVER;
        out->pool = 0;
        out->missing = want->bytes;
        if (why)
            buf_addf(why, "%s is pinned to GPU %d, which this machine does not have",
                     want->name, want->pool);
        return;
    }
    out->verdict = best.verdict;
    out->pool = best.pool;
    out->nvictims = best.verdict == BUDGET_EVICT ? best.nvictims : 0;
    memcpy(out->victims, best.victims, out->nvictims * sizeof(size_t));
    out->nbusy = best.verdict == BUDGET_WAIT ? best.nbusy : 0;
    memcpy(out->busy, best.busy, out->nbusy * sizeof(size_t));
    out->free_now = best.free_now;
    out->missing = best.missing;
    if (why)
        describe(pools, items, nitems, want, &best, why);
}
