/* SPDX-License-Identifier: MIT */
/*
 * sched_mem.c: the scheduler's memory side — pools, what each engine holds,
 * admission of loads, eviction, batching of turns between models that
 * cannot coexist, and sampling of engines' real memory use.
 *
 * DESIGN
 * Every engine holds a `charge` in one pool: 0 when stopped; while loading,
 * its peak (steady size × load_factor, or more if the engine reports or is
 * seen using more); while running, its steady size or what it really uses,
 * whichever is larger; while stopping, what it held until its process has
 * exited. budget_decide() (budget.c) is asked, for the loads queued in
 * arrival order, whether each fits; every decision is taken on the loop
 * thread from the charges as they are at that moment, so concurrent
 * requests for different models can never promise the same bytes twice.
 *
 * Loads are serialized (one engine starting at a time): load transients
 * are what freezes unified-memory machines.
 *
 * Batching: when a queued load must wait for busy engines (two models that
 * cannot coexist), the resident model keeps serving until the waiting
 * model's oldest request has waited swap_quantum; then the resident model
 * drains — it takes no new requests, they queue — and is stopped once its
 * requests in flight are done. Requests for the same model therefore run
 * in batches, one swap per turn instead of one per request. swap_policy:
 * fifo (quantum 0) is the naive alternative the benchmark compares with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/sysmem.h"
#include "sched/sched_int.h"

/* ---- sizes ---------------------------------------------------------------------- */

uint64_t sched__steady(const struct sched_engine *se)
{
    if (se->declared)
        return se->declared;
    if (se->measured_peak)
        return se->measured_peak;
    if (se->reported)
        return se->reported;
    return se->estimate;
}

static uint64_t peak(const struct sched_engine *se)
{
    struct sched *s = se->m->s;
    uint64_t p = (uint64_t)((double)sched__steady(se) * s->load_factor);
    if (se->reported > p)
        p = se->reported;
    if (se->measured > p)
        p = se->measured;
    return p;
}

void sched__recharge(struct sched_engine *se)
{
    enum engine_state st = engine_state(se->e);
    if (!engine_managed(se->e)) {
        /* Memory we do not control: counted while up, as declared, else
         * as the engine itself reports it (Ollama's /api/ps: what the
         * model takes while loaded, nothing once Ollama unloaded it; its
         * file size from a request until /api/ps has seen it). An unload
         * in progress (STOPPING) still holds it. */
        uint64_t c = se->declared ? se->declared : se->measured;
        if (!se->declared && (se->ps_stale || st == ENGINE_STARTING) && sched__steady(se) > c)
            c = sched__steady(se);
        se->charge = st == ENGINE_STOPPED || st == ENGINE_DOWN ? 0 : c;
        return;
    }
    switch (st) {
    case ENGINE_STOPPED:
        se->charge = 0;
        break;
    case ENGINE_STARTING:
        se->charge = peak(se);
        break;
    case ENGINE_READY: {
        uint64_t c = sched__steady(se);
        se->charge = se->measured > c ? se->measured : c;
        break;
    }
    case ENGINE_STOPPING:
    case ENGINE_DOWN:
        break; /* held until the process has exited */
    }
}

/*
 * Within its turn (swap_quantum since it became ready), an engine that has
 * just finished a request is about to get the next one from the same
 * client: back-to-back requests leave it idle for a few milliseconds only.
 * It is not evicted during that grace, or two models taking turns would
 * swap at every gap. A model idle for longer (a person who moved on to the
 * other model) is evicted at once.
 */
#define SWAP_GRACE_MS 250

static bool protected_now(const struct sched_engine *se, uint64_t now)
{
    const struct config *cfg = se->m->s->cfg;
    return !cfg->swap_fifo && se->drain == DRAIN_NONE &&
           now - se->turn_start_ms < cfg->swap_quantum_ms &&
           now - se->last_used_mono_ms < SWAP_GRACE_MS;
}

/* An engine hermod does not run but can make unload its model. */
bool sched__unloadable(const struct sched_engine *se)
{
    return !engine_managed(se->e) && engine_config(se->e)->kind == ENGINE_KIND_OLLAMA &&
           engine_api_memory(se->e, NULL, NULL, NULL) && !se->declared;
}

static enum budget_hold hold_of(const struct sched_engine *se)
{
    enum engine_state st = engine_state(se->e);
    if ((!engine_managed(se->e) && !sched__unloadable(se)) || se->m->cfg->pinned)
        return st == ENGINE_STOPPING ? BUDGET_STOPPING : BUDGET_PINNED;
    switch (st) {
    case ENGINE_STARTING: return BUDGET_LOADING;
    case ENGINE_STOPPING: return BUDGET_STOPPING;
    case ENGINE_READY:
        return se->in_flight || se->drain == DRAIN_UNLOAD || protected_now(se, clock_mono_ms())
                   ? BUDGET_BUSY
                   : BUDGET_IDLE;
    default: return BUDGET_STOPPING;
    }
}

/* Everything that holds memory now; ses[i] is items[i]'s engine. */
static size_t build_items(const struct sched *s, struct budget_item *items,
                          struct sched_engine **ses, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nmodels; i++) {
        const struct sched_model *m = s->models[i];
        for (size_t j = 0; j < m->n && n < max; j++) {
            struct sched_engine *se = &m->engines[j];
            if (!se->charge)
                continue;
            items[n] = (struct budget_item){
                .name = engine_id(se->e),
                .group = m->cfg->group,
                .pool = se->pool,
                .bytes = se->charge,
                .hold = hold_of(se),
                .last_used = se->last_used_mono_ms,
            };
            ses[n++] = se;
        }
    }
    return n;
}

static void enforce(struct sched *s);
static void estimate_async(struct sched_engine *se);

/* ---- the load queue --------------------------------------------------------------- */

void sched__unqueue(struct sched_engine *se)
{
    if (!se->in_loadq)
        return;
    list_del(&se->lq_link);
    se->in_loadq = false;
}

void sched__request_load(struct sched_engine *se)
{
    struct sched *s = se->m->s;
    if (!se->in_loadq) {
        se->in_loadq = true;
        se->estimate_tried = false;
        se->load_queued_ms = clock_mono_ms();
        list_add_tail(&s->loadq, &se->lq_link);
    }
    sched__admit(s);
}

static uint64_t oldest_wait(const struct sched_engine *se)
{
    uint64_t oldest = se->load_queued_ms;
    struct list *p;
    list_for_each(p, &se->waiters)
    {
        const struct sched_ticket *t = container_of(p, struct sched_ticket, link);
        if (t->wait_since_ms < oldest)
            oldest = t->wait_since_ms;
    }
    return oldest;
}

static void quantum_cb(uv_timer_t *t)
{
    sched__admit(t->data);
}

static void start_load(struct sched_engine *se, int pool)
{
    struct sched *s = se->m->s;
    char a[32];
    sched__unqueue(se);
    se->pool = pool;
    engine_report_init(&se->report);
    struct buf err = BUF_INIT;
    int rc = engine_start(se->e, &err);
    if (rc) {
        se->failures++;
        sched__set_cooldown(se, buf_cstr(&err));
        sched__repick_waiters(se, buf_cstr(&err), false);
        buf_release(&err);
        return;
    }
    buf_release(&err);
    sched__recharge(se);
    log_info("engine loading engine=%s pool=%s charge=%s", engine_id(se->e),
             s->pools[pool].name, str_fmt_size(se->charge, a, sizeof(a)));
}

static void drain_for(struct sched *s, struct sched_engine *waiting, struct sched_engine *busy)
{
    if (busy->drain != DRAIN_NONE)
        return;
    busy->drain = DRAIN_BUDGET;
    log_info("engine draining for another model's turn engine=%s for=%s in_flight=%u",
             engine_id(busy->e), engine_id(waiting->e), busy->in_flight);
}

static void admit_pass(struct sched *s)
{
    struct budget_item items[256];
    struct sched_engine *ses[256];
    uint64_t now = clock_mono_ms();
    uint64_t next_quantum = 0;
    bool loading = false;
    bool head = true;

    if (s->shutting_down)
        return;
    /* Budget drains are recomputed every pass: a turn ends only while some
     * load still waits for it. */
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++) {
            struct sched_engine *se = &s->models[i]->engines[j];
            if (engine_state(se->e) == ENGINE_STARTING && engine_managed(se->e))
                loading = true;
        }
    struct sched_engine *was_draining[256];
    size_t nwas = 0;
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++) {
            struct sched_engine *se = &s->models[i]->engines[j];
            if (se->drain == DRAIN_BUDGET && nwas < ARRAY_SIZE(was_draining)) {
                se->drain = DRAIN_NONE;
                was_draining[nwas++] = se;
            }
        }

    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &s->loadq)
    {
        struct sched_engine *se = container_of(p, struct sched_engine, lq_link);
        if (list_empty(&se->waiters) && !se->resident_wanted) {
            sched__unqueue(se);
            continue;
        }
        if (engine_state(se->e) != ENGINE_STOPPED) {
            head = false; /* still stopping from an earlier run */
            continue;
        }
        /* Never load blind when a size can be known: a model file that was
         * missing at start may be there now. */
        if (!sched__steady(se) && !se->estimate_tried)
            estimate_async(se);
        if (se->estimating) {
            se->estimate_tried = true;
            head = false;
            continue;
        }
        struct budget_want w = {
            .name = engine_id(se->e),
            .group = se->m->cfg->group,
            .bytes = peak(se),
            .pool = se->m->cfg->gpu >= 0 && s->npools > 1 ? se->m->cfg->gpu : -1,
        };
        size_t n = build_items(s, items, ses, ARRAY_SIZE(items));
        struct budget_decision d;
        struct buf why = BUF_INIT;
        budget_decide(s->pools, s->npools, items, n, &w, &d, &why);
        switch (d.verdict) {
        case BUDGET_NEVER:
            sched__unqueue(se);
            log_warn("engine can never fit the memory budget engine=%s reason=\"%s\"",
                     engine_id(se->e), buf_cstr(&why));
            sched__repick_waiters(se, buf_cstr(&why), true);
            break;
        case BUDGET_START:
            if (loading && s->cfg->serialize_loads) {
                head = false;
                break;
            }
            start_load(se, d.pool);
            loading = true;
            head = false;
            break;
        case BUDGET_EVICT:
            if (head) {
                for (size_t v = 0; v < d.nvictims; v++) {
                    struct sched_engine *victim = ses[d.victims[v]];
                    char a[32];
                    log_info("evicting engine=%s bytes=%s to make room for engine=%s",
                             engine_id(victim->e), str_fmt_size(victim->charge, a, sizeof(a)),
                             engine_id(se->e));
                    engine_stop(victim->e);
                    sched__recharge(victim);
                }
            }
            head = false;
            break;
        case BUDGET_WAIT:
            if (head && d.nbusy) {
                uint64_t quantum = s->cfg->swap_fifo ? 0 : s->cfg->swap_quantum_ms;
                uint64_t waited = now - oldest_wait(se);
                if (waited >= quantum) {
                    for (size_t b = 0; b < d.nbusy; b++)
                        drain_for(s, se, ses[d.busy[b]]);
                } else if (!next_quantum || quantum - waited < next_quantum) {
                    next_quantum = quantum - waited;
                }
                /* a grace that runs out may free an engine sooner */
                for (size_t b = 0; b < d.nbusy; b++) {
                    struct sched_engine *o = ses[d.busy[b]];
                    if (!o->in_flight && protected_now(o, now)) {
                        uint64_t left = o->last_used_mono_ms + SWAP_GRACE_MS - now + 1;
                        if (!next_quantum || left < next_quantum)
                            next_quantum = left;
                    }
                }
            }
            head = false;
            break;
        }
        buf_release(&why);
    }
    if (next_quantum)
        uv_timer_start(s->quantum_timer, quantum_cb, next_quantum, 0);
    /* Engines no longer needed to drain take requests again. */
    for (size_t i = 0; i < nwas; i++) {
        struct sched_engine *se = was_draining[i];
        if (se->drain == DRAIN_NONE && engine_state(se->e) == ENGINE_READY)
            sched__repick_waiters(se, NULL, false);
    }
    /* A drained engine with nothing in flight stops now. */
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++) {
            struct sched_engine *se = &s->models[i]->engines[j];
            if (se->drain == DRAIN_BUDGET && !se->in_flight &&
                engine_state(se->e) == ENGINE_READY) {
                log_info("engine drained, stopping engine=%s reason=\"another model's turn\"",
                         engine_id(se->e));
                se->drain = DRAIN_NONE;
                engine_stop(se->e);
                sched__recharge(se);
                s->admit_again = true;
            }
        }
}

void sched__admit(struct sched *s)
{
    if (s->admitting) {
        s->admit_again = true;
        return;
    }
    s->admitting = true;
    do {
        s->admit_again = false;
        admit_pass(s);
    } while (s->admit_again);
    s->admitting = false;
}

/* ---- measuring ------------------------------------------------------------------- */

/* Stops idle engines in a pool that real use pushed over its capacity. */
static void enforce(struct sched *s)
{
    struct budget_item items[256];
    struct sched_engine *ses[256];
    size_t n = build_items(s, items, ses, ARRAY_SIZE(items));
    for (size_t p = 0; p < s->npools; p++) {
        uint64_t used = budget_used(items, n, (int)p);
        if (used <= s->pools[p].capacity)
            continue;
        char a[32], b[32];
        log_warn("engines use more than the budget pool=%s used=%s capacity=%s",
                 s->pools[p].name, str_fmt_size(used, a, sizeof(a)),
                 str_fmt_size(s->pools[p].capacity, b, sizeof(b)));
        /* least recently used idle ones first */
        for (;;) {
            size_t lru = n;
            for (size_t i = 0; i < n; i++)
                if (items[i].pool == (int)p && items[i].hold == BUDGET_IDLE &&
                    engine_state(ses[i]->e) == ENGINE_READY &&
                    (lru == n || items[i].last_used < items[lru].last_used))
                    lru = i;
            if (lru == n)
                break;
            log_info("evicting engine=%s to get back under the budget", engine_id(ses[lru]->e));
            engine_stop(ses[lru]->e);
            items[lru].hold = BUDGET_STOPPING;
            used -= items[lru].bytes;
            if (used <= s->pools[p].capacity)
                break;
        }
    }
}

static void measure_cb(uv_timer_t *t)
{
    struct sched *s = t->data;
    bool any = false;
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++) {
            struct sched_engine *se = &s->models[i]->engines[j];
            int pid = engine_pid(se->e);
            enum engine_state st = engine_state(se->e);
            uint64_t loaded, file, seq;
            if (!engine_managed(se->e) && engine_api_memory(se->e, &loaded, &file, &seq)) {
                if (file && !se->estimate)
                    se->estimate = file;
                bool fresh = se->ps_stale && seq > se->ps_mark && !se->in_flight;
                if (se->measured != loaded || fresh) {
                    if (fresh)
                        se->ps_stale = false;
                    se->measured = loaded;
                    if (loaded > se->measured_peak)
                        se->measured_peak = loaded;
                    sched__recharge(se);
                    any = true;
                }
                continue;
            }
            if (pid <= 0 || (st != ENGINE_READY && st != ENGINE_STARTING))
                continue;
            uint64_t rss = sysmem_tree_rss(pid), gpu = sysmem_tree_gpu(pid);
            /* With discrete GPUs the budget is GPU memory (per GPU, or the
             * `budget` set for them); on unified memory or without a GPU it
             * is everything the process tree has. */
            uint64_t m = s->have_gpu && !s->unified ? gpu : rss + gpu;
            se->measured = m;
            if (st == ENGINE_READY && m > se->measured_peak)
                se->measured_peak = m;
            sched__recharge(se);
            any = true;
        }
    if (any) {
        enforce(s);
        sched__admit(s);
    }
}

/*
 * llama-server and vLLM print the buffers they allocate while they load.
 * Each such line corrects what a loading engine is charged, before it is
 * even ready, so a model larger than its estimate is caught while loading.
 */
void sched__on_output(struct sched_engine *se, const char *lines)
{
    bool seen = false;
    const char *p = lines;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        if (n < sizeof(line)) {
            memcpy(line, p, n);
            line[n] = '\0';
            if (estimate_parse_log_line(line, &se->report) > 0)
                seen = true;
        }
        p += n + (nl ? 1 : 0);
    }
    if (!seen)
        return;
    struct estimate e;
    engine_report_breakdown(&se->report, &e);
    se->reported = e.total;
    sched__recharge(se);
    enforce(se->m->s);
}

/* ---- estimates (worker pool) ---------------------------------------------------------- */

/*
 * A sizing job reads only its own inputs (the model's config, which
 * outlives the loop) on the worker, never the scheduler. The scheduler
 * keeps its jobs in a list; if it is freed first (shutdown), it orphans
 * them and their completion only frees them.
 */
struct size_job {
    uv_work_t work;
    struct list link;             /* in sched->size_jobs */
    struct sched_engine *se;      /* NULL once orphaned */
    const struct config_model *model;
    const struct config_engine *engine;
    bool have_gpu;
    struct sizing result;
};

static void size_work(uv_work_t *w)
{
    struct size_job *j = w->data;
    sizing_engine(j->model, j->engine, j->have_gpu, &j->result);
}

static void size_done(uv_work_t *w, int status)
{
    struct size_job *j = w->data;
    struct sched_engine *se = j->se;
    list_del(&j->link);
    if (!se) {
        free(j);
        return;
    }
    se->estimating = false;
    if (status == 0) {
        engine_set_file_error(se->e, j->result.file_error[0] ? j->result.file_error : NULL);
        if (j->result.file_error[0]) {
            log_warn("engine model file is not usable engine=%s reason=\"%s\"",
                     engine_id(se->e), j->result.file_error);
            /* whoever waits for this load hears why */
            sched__unqueue(se);
            sched__repick_waiters(se, j->result.file_error, false);
        }
    }
    if (status == 0 && j->result.source != SIZING_DECLARED) {
        se->estimate = j->result.bytes;
        snprintf(se->estimate_from, sizeof(se->estimate_from), "%s", j->result.detail);
        if (se->estimate) {
            char a[32];
            log_info("engine size engine=%s estimate=%s from=\"%s\"", engine_id(se->e),
                     str_fmt_size(se->estimate, a, sizeof(a)), j->result.detail);
        }
    }
    free(j);
    sched__recharge(se);
    sched__admit(se->m->s);
}

/* Sizes se from its model file or the catalog, off the loop thread. */
static void estimate_async(struct sched_engine *se)
{
    if (se->estimating || !engine_managed(se->e))
        return;
    struct size_job *j = xcalloc(1, sizeof(*j));
    j->se = se;
    j->model = se->m->cfg;
    j->engine = &se->m->cfg->engines[se->idx];
    j->have_gpu = se->m->s->have_gpu;
    j->work.data = j;
    se->estimating = true;
    if (uv_queue_work(se->m->s->loop, &j->work, size_work, size_done) < 0) {
        se->estimating = false;
        free(j);
        return;
    }
    list_add_tail(&se->m->s->size_jobs, &j->link);
}

/* ---- set-up ------------------------------------------------------------------------ */

static void retry_cb(uv_timer_t *t)
{
    struct sched *s = t->data;
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++) {
            struct sched_engine *se = &s->models[i]->engines[j];
            if (se->resident_wanted && engine_state(se->e) == ENGINE_STOPPED &&
                !se->in_loadq && se->cooldown_until_ms <= now)
                sched__request_load(se);
        }
}

void sched__mem_init(struct sched *s)
{
    const struct config *cfg = s->cfg;
    struct sysmem_info info;
    char a[32], b[32], c[32];
    list_init(&s->loadq);
    list_init(&s->size_jobs);
    sysmem_probe(&info);
    s->unified = info.unified;
    s->have_gpu = info.ngpus > 0;
    if (cfg->budget || !info.ngpus || info.unified) {
        s->npools = 1;
        snprintf(s->pool_names[0], sizeof(s->pool_names[0]), "system");
        s->pool_total[0] = cfg->budget ? cfg->budget : info.mem_total;
    } else {
        s->npools = info.ngpus < BUDGET_MAX_POOLS ? info.ngpus : BUDGET_MAX_POOLS;
        for (size_t g = 0; g < s->npools; g++) {
            snprintf(s->pool_names[g], sizeof(s->pool_names[g]), "gpu%zu", g);
            s->pool_total[g] = info.gpu[g].total;
        }
    }
    for (size_t r = 0; r < cfg->nreserved; r++)
        s->pool_reserved[0] += cfg->reserved[r].bytes;
    for (size_t p = 0; p < s->npools; p++) {
        s->pools[p].name = s->pool_names[p];
        s->pools[p].capacity =
            s->pool_total[p] > s->pool_reserved[p] ? s->pool_total[p] - s->pool_reserved[p] : 0;
    }
    /*
     * With an automatic budget, `reserved` describes services that share
     * the machine. Where they do not run (a config written for the DGX
     * Spark used on a smaller box), subtracting them would leave nothing;
     * where they run, the memory available now already excludes them. So
     * the system pool gets at least 90% of what is available at start.
     */
    if (!cfg->budget && !strcmp(s->pool_names[0], "system")) {
        uint64_t floor = info.mem_available / 10 * 9;
        if (s->pools[0].capacity < floor) {
            log_warn("reserved memory (%s) leaves only %s for engines on this machine, but "
                     "%s is available now: using that (set budget: to decide yourself)",
                     str_fmt_size(s->pool_reserved[0], a, sizeof(a)),
                     str_fmt_size(s->pools[0].capacity, b, sizeof(b)),
                     str_fmt_size(floor, c, sizeof(c)));
            s->pools[0].capacity = floor;
        }
    }
    s->load_factor = cfg->load_factor > 0 ? cfg->load_factor : s->unified ? 1.8 : 1.0;
    for (size_t i = 0; i < s->nmodels; i++) {
        struct sched_model *m = s->models[i];
        for (size_t j = 0; j < m->n; j++) {
            struct sched_engine *se = &m->engines[j];
            se->declared = m->cfg->engines[j].memory ? m->cfg->engines[j].memory
                                                     : m->cfg->memory;
            se->pool = m->cfg->gpu >= 0 && (size_t)m->cfg->gpu < s->npools ? m->cfg->gpu : 0;
            engine_report_init(&se->report);
            estimate_async(se);
        }
    }
    s->quantum_timer = xmalloc(sizeof(uv_timer_t));
    s->measure_timer = xmalloc(sizeof(uv_timer_t));
    s->retry_timer = xmalloc(sizeof(uv_timer_t));
    uv_timer_init(s->loop, s->quantum_timer);
    uv_timer_init(s->loop, s->measure_timer);
    uv_timer_init(s->loop, s->retry_timer);
    s->quantum_timer->data = s->measure_timer->data = s->retry_timer->data = s;
    uv_timer_start(s->measure_timer, measure_cb, cfg->measure_interval_ms,
                   cfg->measure_interval_ms);
    uv_timer_start(s->retry_timer, retry_cb, 1000, 1000);
    for (size_t p = 0; p < s->npools; p++)
        log_info("memory pool=%s total=%s reserved=%s for_engines=%s%s load_factor=%.2f",
                 s->pool_names[p], str_fmt_size(s->pool_total[p], a, sizeof(a)),
                 str_fmt_size(s->pool_reserved[p], b, sizeof(b)),
                 str_fmt_size(s->pools[p].capacity, c, sizeof(c)),
                 s->unified ? " unified=1" : "", s->load_factor);
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void sched__mem_release(struct sched *s)
{
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &s->size_jobs)
    {
        struct size_job *j = container_of(p, struct size_job, link);
        j->se = NULL; /* freed by its completion, which the loop still runs */
        list_del(&j->link);
    }
    uv_timer_t *t[] = {s->quantum_timer, s->measure_timer, s->retry_timer};
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        uv_timer_stop(t[i]);
        uv_close((uv_handle_t *)t[i], timer_closed);
    }
}

/* ---- public -------------------------------------------------------------------------- */

size_t sched_pools(const struct sched *s, struct sched_pool_info *out, size_t max)
{
    struct budget_item items[256];
    struct sched_engine *ses[256];
    size_t n = build_items(s, items, ses, ARRAY_SIZE(items));
    size_t k = 0;
    for (size_t p = 0; p < s->npools && k < max; p++, k++) {
        out[k].name = s->pool_names[p];
        out[k].total = s->pool_total[p];
        out[k].reserved = s->pool_reserved[p];
        out[k].capacity = s->pools[p].capacity;
        out[k].used = budget_used(items, n, (int)p);
        out[k].unified = s->unified;
        out[k].load_factor = s->load_factor;
    }
    return k;
}
