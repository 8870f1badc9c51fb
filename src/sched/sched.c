/* SPDX-License-Identifier: MIT */
/*
 * sched.c: engine choice, tickets, cooldown, concurrency, ttl, unload.
 * See sched.h for the contract; the memory side lives in sched_mem.c.
 *
 * DESIGN
 * A ticket moves: NEW -> (SLOT_WAIT) -> (ENGINE_WAIT) -> GRANTED, and back
 * to picking after sched_engine_failed(). The model slot (the concurrency
 * limit) is taken once and kept across fallbacks, so a fallback never
 * queues behind requests that came later.
 *
 * pick() walks the model's engines in their configured order and takes the
 * first one that is not tried, not cooling down and possible: a ready one
 * grants at once; a starting, stopping or draining one makes the ticket
 * wait on it; a stopped one is queued for loading (sched_mem.c decides
 * when there is room). Everything skipped is written into the ticket's
 * reasons, which become the 503 message when nothing is left.
 */
#include "sched/sched.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "lib/clock.h"
#include "lib/prom.h"
#include "lib/xalloc.h"
#include "sched/sched_int.h"

/* An unmanaged engine found down is checked again on demand after this. */
#define RECHECK_DOWN_MS 2000

static void check_shutdown(struct sched *s);

/* ---- helpers -------------------------------------------------------------------- */

void sched__add_reason(struct sched_ticket *t, struct sched_engine *se, const char *fmt, ...)
{
    va_list ap;
    if (t->reasons.len)
        buf_addstr(&t->reasons, "; ");
    buf_addf(&t->reasons, "%s: ", engine_id(se->e));
    va_start(ap, fmt);
    buf_vaddf(&t->reasons, fmt, ap);
    va_end(ap);
}

void sched__set_cooldown(struct sched_engine *se, const char *reason)
{
    se->cooldown_until_ms = clock_mono_ms() + se->m->s->cfg->cooldown_ms;
    free(se->cooldown_reason);
    se->cooldown_reason = xstrdup(reason ? reason : "a failure");
}

static void grant(struct sched_ticket *t, struct sched_engine *se)
{
    if (t->state == T_ENGINE_WAIT)
        list_del(&t->link);
    t->state = T_GRANTED;
    t->se = se;
    se->in_flight++;
    se->requests++;
    se->last_used_mono_ms = clock_mono_ms();
    uint64_t seq;
    if (!engine_managed(se->e) && engine_api_memory(se->e, NULL, NULL, &seq)) {
        se->ps_stale = true;
        se->ps_mark = seq;
    }
    if (se->idle_timer)
        uv_timer_stop(se->idle_timer);
    sched__recharge(se);
    t->cb(t, se->e, 0, NULL, t->arg);
}

static void fail_ticket(struct sched_ticket *t, int rc, const char *msg)
{
    if (t->state == T_ENGINE_WAIT || t->state == T_SLOT_WAIT)
        list_del(&t->link);
    if (t->state == T_SLOT_WAIT)
        t->m->nwaiting--;
    t->state = T_DONE;
    t->se = NULL;
    t->cb(t, NULL, rc, msg, t->arg);
}

static void idle_cb(uv_timer_t *timer)
{
    struct sched_engine *se = timer->data;
    if (se->in_flight || engine_state(se->e) != ENGINE_READY)
        return;
    log_info("engine idle for ttl, stopping engine=%s ttl_s=%.0f", engine_id(se->e),
             se->m->cfg->ttl_ms / 1000.0);
    engine_stop(se->e);
    sched__recharge(se);
}

/* The engine has nothing in flight: stop it if asked to, or arm its ttl. */
static void engine_idle(struct sched_engine *se)
{
    if (se->drain != DRAIN_NONE && engine_state(se->e) == ENGINE_READY) {
        log_info("engine drained, stopping engine=%s reason=%s", engine_id(se->e),
                 se->drain == DRAIN_UNLOAD ? "unload" : "another model's turn");
        se->drain = DRAIN_NONE;
        engine_stop(se->e);
        sched__recharge(se);
        return;
    }
    se->last_used_mono_ms = clock_mono_ms();
    sched__recharge(se);
    /* An idle engine can make room for a waiting load. */
    sched__admit(se->m->s);
    if (!engine_managed(se->e) || se->m->cfg->pinned || !se->m->cfg->ttl_ms ||
        engine_state(se->e) != ENGINE_READY)
        return;
    if (!se->idle_timer) {
        se->idle_timer = xmalloc(sizeof(*se->idle_timer));
        uv_timer_init(se->m->s->loop, se->idle_timer);
        se->idle_timer->data = se;
    }
    uv_timer_start(se->idle_timer, idle_cb, se->m->cfg->ttl_ms, 0);
}

static void release_engine(struct sched_ticket *t)
{
    struct sched_engine *se = t->se;
    if (t->state != T_GRANTED || !se)
        return;
    ASSERT(se->in_flight > 0);
    se->in_flight--;
    se->last_used_wall_ms = clock_wall_ms();
    t->se = NULL;
    t->state = T_NEW;
    if (!se->in_flight) {
        if (se->ps_stale)
            engine_refresh_usage(se->e); /* what did Ollama load for it? */
        engine_idle(se);
    }
}

static void release_slot(struct sched_ticket *t)
{
    struct sched_model *m = t->m;
    if (!t->has_slot)
        return;
    t->has_slot = false;
    m->slots--;
    /* Hand the slot to the oldest waiter. */
    struct list *first = list_first(&m->slot_waiters);
    if (first) {
        struct sched_ticket *w = container_of(first, struct sched_ticket, link);
        list_del(&w->link);
        m->nwaiting--;
        w->state = T_NEW;
        w->has_slot = true;
        m->slots++;
        sched__pick(w);
    }
}

/* ---- engine events ---------------------------------------------------------------- */

void sched__repick_waiters(struct sched_engine *se, const char *reason, bool nospc)
{
    /* Picking may queue a ticket on this very engine again: take the
     * current waiters out first, so each is picked once. */
    struct list batch;
    list_move_all(&se->waiters, &batch);
    while (!list_empty(&batch)) {
        struct sched_ticket *t = container_of(batch.next, struct sched_ticket, link);
        list_del(&t->link);
        t->state = T_NEW;
        t->se = NULL;
        if (reason) {
            t->tried |= 1u << se->idx;
            t->nospc |= nospc;
            sched__add_reason(t, se, "%s", reason);
        }
        sched__pick(t);
    }
}

static void on_engine_event(struct engine *e, enum engine_event ev, const char *reason, void *arg)
{
    struct sched_engine *se = arg;
    struct sched *s = se->m->s;
    switch (ev) {
    case ENGINE_EV_READY: {
        if (engine_managed(e) && engine_pid(e) && engine_start_ms(e))
            prom_observe(s->m_cold_start, (const char *[]){se->m->cfg->name},
                         (double)engine_start_ms(e) / 1000.0);
        se->turn_start_ms = clock_mono_ms();
        se->last_used_mono_ms = se->turn_start_ms;
        sched__recharge(se);
        struct list *p, *tmp;
        if (se->drain == DRAIN_NONE) {
            list_for_each_safe(p, tmp, &se->waiters)
            {
                struct sched_ticket *t = container_of(p, struct sched_ticket, link);
                grant(t, se);
            }
        }
        if (!se->in_flight)
            engine_idle(se);
        sched__admit(s); /* the next load may go */
        break;
    }
    case ENGINE_EV_START_FAILED:
        se->failures++;
        /* An unmanaged engine that fails its health check is DOWN and
         * re-checked on demand; a cooldown would only hide its recovery. */
        if (engine_managed(e))
            sched__set_cooldown(se, reason ? reason : "failed to start");
        sched__recharge(se);
        sched__repick_waiters(se, reason ? reason : "failed to start", false);
        sched__admit(s);
        break;
    case ENGINE_EV_EXITED:
        se->exit_unseen = false;
        if (se->exit_timer)
            uv_timer_stop(se->exit_timer);
        /* A crash is a failure too (a stop hermod asked for is not). */
        if (engine_crashes(e) != se->crashes) {
            se->crashes = engine_crashes(e);
            se->failures++;
        }
        se->drain = DRAIN_NONE;
        if (se->idle_timer)
            uv_timer_stop(se->idle_timer);
        se->measured = 0;
        sched__recharge(se);
        /* Requests that waited for it to stop now start it again. */
        if (!s->shutting_down)
            sched__repick_waiters(se, NULL, false);
        if (!s->shutting_down && se->resident_wanted)
            sched__request_load(se);
        sched__admit(s);
        check_shutdown(s);
        break;
    case ENGINE_EV_OUTPUT:
        sched__on_output(se, reason);
        break;
    case ENGINE_EV_DOWN:
        sched__recharge(se);
        break;
    }
}

/* ---- picking -------------------------------------------------------------------- */

static void wait_for(struct sched_ticket *t, struct sched_engine *se)
{
    t->attempts++;
    t->state = T_ENGINE_WAIT;
    t->se = se;
    t->wait_since_ms = clock_mono_ms();
    list_add_tail(&se->waiters, &t->link);
}

void sched__pick(struct sched_ticket *t)
{
    struct sched_model *m = t->m;
    struct sched *s = m->s;
    uint64_t now = clock_mono_ms();

    if (s->shutting_down) {
        fail_ticket(t, -ENODEV, "hermod is shutting down");
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        struct sched_engine *se = &m->engines[i];
        uint32_t bit = 1u << i;
        if (t->tried & bit)
            continue;
        if (se->cooldown_until_ms > now) {
            sched__add_reason(t, se, "cooling down for %.1f s after: %s",
                              (se->cooldown_until_ms - now) / 1000.0,
                              se->cooldown_reason ? se->cooldown_reason : "a failure");
            t->tried |= bit;
            continue;
        }
        switch (engine_state(se->e)) {
        case ENGINE_READY:
            if (se->drain != DRAIN_NONE || se->exit_unseen) {
                wait_for(t, se);
                return;
            }
            t->attempts++;
            grant(t, se);
            return;
        case ENGINE_STARTING:
        case ENGINE_STOPPING:
            wait_for(t, se);
            return;
        case ENGINE_DOWN: {
            /* Check again rather than trust an old verdict: an engine that
             * came up since (someone started Ollama) serves at once. */
            struct buf why = BUF_INIT;
            if (engine_health_age_ms(se->e) >= RECHECK_DOWN_MS &&
                engine_start(se->e, &why) == 0) {
                buf_release(&why);
                wait_for(t, se);
                return;
            }
            buf_release(&why);
            sched__add_reason(t, se, "%s",
                              engine_last_error(se->e) ? engine_last_error(se->e) : "down");
            t->tried |= bit;
            continue;
        }
        case ENGINE_STOPPED: {
            struct buf why = BUF_INIT;
            bool ok = engine_possible(se->e, &why);
            if (!ok) {
                sched__add_reason(t, se, "%s", buf_cstr(&why));
                buf_release(&why);
                t->tried |= bit;
                continue;
            }
            buf_release(&why);
            if (!engine_managed(se->e) && !sched__unloadable(se)) {
                /* "starting" an unmanaged engine is a health check */
                struct buf err = BUF_INIT;
                int rc = engine_start(se->e, &err);
                if (rc) {
                    sched__add_reason(t, se, "%s", buf_cstr(&err));
                    buf_release(&err);
                    t->tried |= bit;
                    continue;
                }
                buf_release(&err);
                wait_for(t, se);
                return;
            }
            /* The load may start at once, wait for room, or be refused:
             * sched_mem.c tells the waiters. */
            wait_for(t, se);
            sched__request_load(se);
            return;
        }
        }
    }
    struct buf msg = BUF_INIT;
    buf_addf(&msg, "no engine available for model '%s': %s", m->cfg->name,
             t->reasons.len ? buf_cstr(&t->reasons) : "no engines");
    fail_ticket(t, t->nospc ? -ENOSPC : -ENODEV, buf_cstr(&msg));
    buf_release(&msg);
}

/* ---- public --------------------------------------------------------------------- */

/* A model and its engines, added to s->models (not to the live list). */
static struct sched_model *model_new(struct sched *s, const struct config_model *mc,
                                     const struct config *cfg)
{
    struct sched_model *m = xcalloc(1, sizeof(*m));
    m->s = s;
    m->cfg = mc;
    m->n = mc->nengines;
    m->engines = xcalloc(m->n ? m->n : 1, sizeof(*m->engines));
    list_init(&m->slot_waiters);
    for (size_t j = 0; j < m->n; j++) {
        struct sched_engine *se = &m->engines[j];
        const char *kind = engine_kind_name(mc->engines[j].kind);
        unsigned same = 0, nth = 0;
        for (size_t k = 0; k < m->n; k++) {
            if (mc->engines[k].kind == mc->engines[j].kind) {
                same++;
                if (k < j)
                    nth++;
            }
        }
        char *id = same > 1 ? xasprintf("%s@%s.%u", mc->name, kind, nth + 1)
                            : xasprintf("%s@%s", mc->name, kind);
        se->m = m;
        se->idx = (unsigned)j;
        list_init(&se->waiters);
        list_init(&se->lq_link);
        se->e = engine_new(s->loop, s->up, &mc->engines[j], cfg, mc->name, id, on_engine_event,
                           se);
        free(id);
    }
    ALLOC_GROW(s->models, s->nmodels + 1, s->models_cap);
    s->models[s->nmodels++] = m;
    return m;
}

struct sched *sched_new(uv_loop_t *loop, struct upstream *up, const struct config *cfg)
{
    struct sched *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->up = up;
    s->cfg = cfg;
    engine_init_loop(loop);
    s->nlive = cfg->nmodels;
    s->live = xcalloc(cfg->nmodels ? cfg->nmodels : 1, sizeof(*s->live));
    for (size_t i = 0; i < cfg->nmodels; i++)
        s->live[i] = model_new(s, &cfg->models[i], cfg);
    sched__mem_init(s);
    /* Seconds: a small model from page cache in one, a large one from disk in minutes. */
    static const double cold[] = {0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
    s->m_cold_start = prom_family_new(PROM_HISTOGRAM, "hermod_cold_start_seconds",
                                      "Time from spawning a managed engine to its first "
                                      "successful readiness check.",
                                      "model", cold, ARRAY_SIZE(cold));
    return s;
}

/* Health checks of its unmanaged engines; a pinned model loads. */
static void model_start(struct sched_model *m)
{
    for (size_t j = 0; j < m->n; j++) {
        struct sched_engine *se = &m->engines[j];
        struct buf err = BUF_INIT;
        if (!engine_managed(se->e))
            engine_start(se->e, &err); /* a health check, never a spawn */
        buf_release(&err);
    }
    if (m->cfg->pinned) {
        /* A pinned model is resident from the start: its first possible
         * managed engine loads with or without a request. */
        for (size_t j = 0; j < m->n; j++) {
            struct sched_engine *se = &m->engines[j];
            struct buf why = BUF_INIT;
            bool ok = engine_managed(se->e) && engine_possible(se->e, &why);
            buf_release(&why);
            if (ok) {
                se->resident_wanted = true;
                sched__request_load(se);
                break;
            }
        }
    }
}

void sched_start(struct sched *s)
{
    for (size_t i = 0; i < s->nlive; i++)
        model_start(s->live[i]);
}

/* A model a reload removed or changed: it takes no new requests; its
 * engines stop once their requests are done, and hold their memory until
 * then. */
static void model_retire(struct sched_model *m)
{
    m->retired = true;
    sched_unload(m->s, m);
    for (size_t j = 0; j < m->n; j++) {
        struct sched_engine *se = &m->engines[j];
        se->resident_wanted = false;
        sched__unqueue(se);
        if (!engine_managed(se->e) && !se->in_flight)
            engine_stop(se->e); /* forget its health; no more checks */
    }
}

int sched_reload(struct sched *s, const struct config *cfg, struct buf *report)
{
    size_t added = 0, changed = 0, kept = 0, removed = 0;
    struct sched_model **live = xcalloc(cfg->nmodels ? cfg->nmodels : 1, sizeof(*live));
    bool *matched = xcalloc(s->nlive ? s->nlive : 1, sizeof(*matched));
    bool *fresh = xcalloc(cfg->nmodels ? cfg->nmodels : 1, sizeof(*fresh));
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const struct config_model *mc = &cfg->models[i];
        struct sched_model *old = NULL;
        for (size_t k = 0; k < s->nlive; k++)
            if (!matched[k] && !strcmp(s->live[k]->cfg->name, mc->name)) {
                old = s->live[k];
                matched[k] = true;
                break;
            }
        if (old && config_model_equal(old->cfg, mc)) {
            /* The same model: it keeps its engines, running or not. */
            old->cfg = mc;
            for (size_t j = 0; j < old->n; j++)
                engine_set_config(old->engines[j].e, &mc->engines[j], cfg);
            live[i] = old;
            kept++;
            continue;
        }
        if (old) {
            model_retire(old);
            changed++;
            buf_addf(report, "%s~%s", report->len ? " " : "", mc->name);
        } else {
            added++;
            buf_addf(report, "%s+%s", report->len ? " " : "", mc->name);
        }
        live[i] = model_new(s, mc, cfg);
        fresh[i] = true;
    }
    for (size_t k = 0; k < s->nlive; k++)
        if (!matched[k]) {
            model_retire(s->live[k]);
            removed++;
            buf_addf(report, "%s-%s", report->len ? " " : "", s->live[k]->cfg->name);
        }
    free(matched);
    free(s->live);
    s->live = live;
    s->nlive = cfg->nmodels;
    s->cfg = cfg;
    for (size_t i = 0; i < s->nlive; i++)
        if (fresh[i])
            model_start(live[i]); /* health checks, pinned loads */
    free(fresh);
    buf_addf(report, "%s(%zu kept, %zu added, %zu changed, %zu removed)", report->len ? " " : "",
             kept, added, changed, removed);
    return 0;
}

static void timer_free_cb(uv_handle_t *h)
{
    free(h);
}

void sched_free(struct sched *s)
{
    if (!s)
        return;
    sched__mem_release(s);
    for (size_t i = 0; i < s->nmodels; i++) {
        struct sched_model *m = s->models[i];
        for (size_t j = 0; j < m->n; j++) {
            struct sched_engine *se = &m->engines[j];
            engine_free(se->e);
            free(se->cooldown_reason);
            if (se->idle_timer)
                uv_close((uv_handle_t *)se->idle_timer, timer_free_cb);
            if (se->exit_timer)
                uv_close((uv_handle_t *)se->exit_timer, timer_free_cb);
            free(se->exit_reason);
        }
        free(m->engines);
        free(m);
    }
    free(s->models);
    free(s->live);
    prom_family_free(s->m_cold_start);
    engine_fini_loop();
    free(s);
}

static unsigned running_managed(struct sched *s)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++) {
            struct engine *e = s->models[i]->engines[j].e;
            if (engine_managed(e) && engine_pid(e) > 0)
                n++;
        }
    return n;
}

static void check_shutdown(struct sched *s)
{
    if (s->shutting_down && s->shutdown_done && running_managed(s) == 0) {
        void (*done)(void *) = s->shutdown_done;
        s->shutdown_done = NULL;
        done(s->shutdown_arg);
    }
}

void sched_shutdown(struct sched *s, void (*done)(void *arg), void *arg)
{
    s->shutting_down = true;
    s->shutdown_done = done;
    s->shutdown_arg = arg;
    for (size_t i = 0; i < s->nmodels; i++) {
        struct sched_model *m = s->models[i];
        /* Waiting requests get an answer now. */
        struct list *p, *tmp;
        list_for_each_safe(p, tmp, &m->slot_waiters)
            fail_ticket(container_of(p, struct sched_ticket, link), -ENODEV,
                        "hermod is shutting down");
        for (size_t j = 0; j < m->n; j++) {
            struct sched_engine *se = &m->engines[j];
            sched__unqueue(se);
            list_for_each_safe(p, tmp, &se->waiters)
                fail_ticket(container_of(p, struct sched_ticket, link), -ENODEV,
                            "hermod is shutting down");
            if (se->idle_timer)
                uv_timer_stop(se->idle_timer);
            if (se->exit_timer)
                uv_timer_stop(se->exit_timer);
            engine_stop(se->e);
        }
    }
    check_shutdown(s);
}

void sched_kill_all(struct sched *s)
{
    for (size_t i = 0; i < s->nmodels; i++)
        for (size_t j = 0; j < s->models[i]->n; j++)
            engine_kill(s->models[i]->engines[j].e);
}

struct sched_model *sched_find_model(struct sched *s, const char *name)
{
    const struct config_model *mc = config_find_model(s->cfg, name);
    if (!mc)
        return NULL;
    return s->live[mc - s->cfg->models];
}

size_t sched_model_count(const struct sched *s)
{
    return s->nlive;
}

struct sched_model *sched_model_at(struct sched *s, size_t i)
{
    return i < s->nlive ? s->live[i] : NULL;
}

const struct config_model *sched_model_config(const struct sched_model *m)
{
    return m->cfg;
}

size_t sched_model_engine_count(const struct sched_model *m)
{
    return m->n;
}

struct engine *sched_model_engine(const struct sched_model *m, size_t i)
{
    return m->engines[i].e;
}

const char *sched_model_state(struct sched_model *m, struct buf *why)
{
    bool starting = false, possible = false;
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < m->n; i++) {
        enum engine_state st = engine_state(m->engines[i].e);
        if (st == ENGINE_READY)
            return "ready";
        if (st == ENGINE_STARTING || m->engines[i].in_loadq)
            starting = true;
    }
    if (starting)
        return "starting";
    for (size_t i = 0; i < m->n; i++) {
        struct sched_engine *se = &m->engines[i];
        struct buf r = BUF_INIT;
        enum engine_state st = engine_state(se->e);
        bool ok;
        if (st == ENGINE_DOWN) {
            ok = false;
            buf_addstr(&r, engine_last_error(se->e) ? engine_last_error(se->e) : "down");
        } else {
            ok = engine_possible(se->e, &r);
        }
        if (ok && se->cooldown_until_ms > now) {
            ok = false;
            buf_addf(&r, "cooling down after: %s",
                     se->cooldown_reason ? se->cooldown_reason : "a failure");
        }
        if (ok)
            possible = true;
        else if (why)
            buf_addf(why, "%s%s: %s", why->len ? "; " : "", engine_id(se->e), buf_cstr(&r));
        buf_release(&r);
    }
    return possible ? "stopped" : "unavailable";
}

void sched_engine_info(const struct sched_model *m, size_t i, struct sched_engine_info *out)
{
    const struct sched_engine *se = &m->engines[i];
    uint64_t now = clock_mono_ms();
    memset(out, 0, sizeof(*out));
    out->in_flight = se->in_flight;
    out->cooldown_left_ms = se->cooldown_until_ms > now ? se->cooldown_until_ms - now : 0;
    out->cooldown_reason = out->cooldown_left_ms ? se->cooldown_reason : NULL;
    out->last_used_wall_ms = se->last_used_wall_ms;
    out->requests = se->requests;
    out->failures = se->failures;
    out->crashes = se->crashes;
    out->declared = se->declared;
    out->estimate = se->estimate;
    out->reported = se->reported;
    out->measured = se->measured;
    out->measured_peak = se->measured_peak;
    out->charge = se->charge;
    out->steady = sched__steady(se);
    out->pool = se->charge || engine_state(se->e) != ENGINE_STOPPED ? se->pool : -1;
    out->queued_for_load = se->in_loadq;
    out->estimate_from = se->estimate_from[0] ? se->estimate_from : NULL;
    out->draining = se->drain != DRAIN_NONE;
}

unsigned sched_model_waiting(const struct sched_model *m)
{
    unsigned n = m->nwaiting;
    for (size_t i = 0; i < m->n; i++)
        n += (unsigned)list_count(&m->engines[i].waiters);
    return n;
}

unsigned sched_model_in_flight(const struct sched_model *m)
{
    unsigned n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->engines[i].in_flight;
    return n;
}

struct sched_ticket *sched_ticket_new(struct sched_model *m, sched_grant_cb *cb, void *arg)
{
    struct sched_ticket *t = xcalloc(1, sizeof(*t));
    list_init(&t->link);
    t->m = m;
    t->cb = cb;
    t->arg = arg;
    t->state = T_NEW;
    return t;
}

void sched_ticket_free(struct sched_ticket *t)
{
    if (!t)
        return;
    struct sched *s = t->m->s;
    bool left_wait = false;
    switch (t->state) {
    case T_SLOT_WAIT:
        list_del(&t->link);
        t->m->nwaiting--;
        break;
    case T_ENGINE_WAIT:
        list_del(&t->link);
        left_wait = true;
        break;
    case T_GRANTED:
        release_engine(t);
        break;
    default:
        break;
    }
    release_slot(t);
    buf_release(&t->reasons);
    free(t);
    /* A load that nobody waits for any more need not happen. */
    if (left_wait)
        sched__admit(s);
}

void sched_acquire(struct sched_ticket *t)
{
    struct sched_model *m = t->m;
    ASSERT(t->state == T_NEW);
    if (!t->has_slot) {
        if (m->cfg->concurrency && m->slots >= m->cfg->concurrency) {
            if (m->nwaiting >= m->cfg->queue) {
                struct buf msg = BUF_INIT;
                buf_addf(&msg, "model '%s' is busy: %u requests in flight (concurrency %u) and "
                         "%u waiting (queue %u)", m->cfg->name, m->slots, m->cfg->concurrency,
                         m->nwaiting, m->cfg->queue);
                fail_ticket(t, -EBUSY, buf_cstr(&msg));
                buf_release(&msg);
                return;
            }
            t->state = T_SLOT_WAIT;
            t->wait_since_ms = clock_mono_ms();
            list_add_tail(&m->slot_waiters, &t->link);
            m->nwaiting++;
            return;
        }
        t->has_slot = true;
        m->slots++;
    }
    sched__pick(t);
}

void sched_engine_failed(struct sched_ticket *t, const char *reason, bool cooldown)
{
    struct sched_engine *se = t->se;
    ASSERT(t->state == T_GRANTED && se);
    se->failures++;
    if (cooldown) {
        sched__set_cooldown(se, reason);
        log_warn("engine failed a request, cooling down engine=%s cooldown_s=%.1f reason=\"%s\"",
                 engine_id(se->e), t->m->s->cfg->cooldown_ms / 1000.0, reason);
    }
    t->tried |= 1u << se->idx;
    sched__add_reason(t, se, "%s", reason);
    release_engine(t);
}

static void exit_timer_cb(uv_timer_t *h)
{
    struct sched_engine *se = h->data;
    if (!se->exit_unseen)
        return;
    /* It still runs and still refuses: broken, not ending. */
    se->exit_unseen = false;
    se->failures++;
    const char *why = se->exit_reason ? se->exit_reason : "connection refused";
    sched__set_cooldown(se, why);
    log_warn("engine refuses connections but has not exited, cooling down engine=%s", engine_id(se->e));
    sched__repick_waiters(se, why, false);
}

void sched_engine_refused(struct sched_ticket *t, const char *reason)
{
    struct sched_engine *se = t->se;
    ASSERT(t->state == T_GRANTED && se);
    if (!engine_managed(se->e)) {
        sched_engine_failed(t, reason, true);
        return;
    }
    if (engine_state(se->e) != ENGINE_READY || !engine_pid(se->e)) {
        /* Its exit was handled while the connection was being opened: the
         * next pick starts it again (or waits for it), as for any request
         * after a crash. */
        log_info("engine ended while a request was connecting to it; picking again engine=%s",
                 engine_id(se->e));
        release_engine(t);
        return;
    }
    if (!se->exit_unseen) {
        log_info("engine refused a connection; waiting for its process to end, to restart it "
                 "engine=%s", engine_id(se->e));
        se->exit_unseen = true;
        free(se->exit_reason);
        se->exit_reason = xstrdup(reason);
        if (!se->exit_timer) {
            se->exit_timer = xmalloc(sizeof(*se->exit_timer));
            uv_timer_init(se->m->s->loop, se->exit_timer);
            se->exit_timer->data = se;
        }
        uv_timer_start(se->exit_timer, exit_timer_cb, SCHED_EXIT_WAIT_MS, 0);
    }
    release_engine(t);
}

void sched_ticket_status(const struct sched_ticket *t, struct buf *out)
{
    uint64_t waited = clock_mono_ms() - t->wait_since_ms;
    switch (t->state) {
    case T_SLOT_WAIT:
        buf_addf(out, "queued: model %s is at its concurrency limit (%u), %.0f s", t->m->cfg->name,
                 t->m->cfg->concurrency, waited / 1000.0);
        break;
    case T_ENGINE_WAIT: {
        struct engine *e = t->se->e;
        enum engine_state st = engine_state(e);
        if (t->se->in_loadq)
            buf_addf(out, "waiting for memory to load %s, %.0f s", engine_id(e),
                     waited / 1000.0);
        else if (st == ENGINE_STOPPING)
            buf_addf(out, "waiting for %s to stop before restarting it", engine_id(e));
        else if (t->se->drain != DRAIN_NONE)
            buf_addf(out, "waiting: %s is draining for another model", engine_id(e));
        else if (engine_pid(e))
            buf_addf(out, "loading %s (pid %d), %.0f s", engine_id(e), engine_pid(e),
                     waited / 1000.0);
        else
            buf_addf(out, "checking %s at %s", engine_id(e), engine_base_url(e));
        break;
    }
    case T_GRANTED:
        buf_addf(out, "ready: %s", engine_id(t->se->e));
        break;
    default:
        buf_addstr(out, "waiting");
    }
}

unsigned sched_ticket_attempts(const struct sched_ticket *t)
{
    return t->attempts;
}

unsigned sched_unload(struct sched *s, struct sched_model *only)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->nmodels; i++) {
        struct sched_model *m = s->models[i];
        if (only && m != only)
            continue;
        for (size_t j = 0; j < m->n; j++) {
            struct sched_engine *se = &m->engines[j];
            enum engine_state st = engine_state(se->e);
            if (!engine_managed(se->e) || (st != ENGINE_READY && st != ENGINE_STARTING))
                continue;
            n++;
            se->resident_wanted = false;
            if (se->in_flight) {
                se->drain = DRAIN_UNLOAD;
            } else {
                engine_stop(se->e);
                sched__recharge(se);
            }
        }
    }
    return n;
}
