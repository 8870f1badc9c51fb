/* SPDX-License-Identifier: MIT */
/*
 * sched_int.h: what sched.c (tickets, engine choice, lifecycle) and
 * sched_mem.c (memory pools, admission, eviction, batching) share.
 * Nothing outside the scheduler includes this.
 */
#ifndef HERMOD_SCHED_INT_H
#define HERMOD_SCHED_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/list.h"
#include "model/engine.h"
#include "model/estimate.h"
#include "model/sizing.h"
#include "sched/budget.h"
#include "sched/sched.h"

struct prom_family;

enum drain_reason {
    DRAIN_NONE,
    DRAIN_UNLOAD,   /* asked to unload: stop once idle */
    DRAIN_BUDGET,   /* another model's turn: stop once idle, grant nothing new */
};

struct sched_engine {
    struct engine *e;
    struct sched_model *m;
    unsigned idx;
    unsigned in_flight;
    uint64_t last_used_wall_ms;
    uint64_t last_used_mono_ms;
    uint64_t cooldown_until_ms;   /* monotonic */
    char *cooldown_reason;
    struct list waiters;          /* tickets waiting for this engine */
    uv_timer_t *idle_timer;       /* ttl; closed async */
    enum drain_reason drain;
    uint64_t requests, failures;
    unsigned crashes;           /* engine_crashes() when last seen */
    bool exit_unseen;           /* its process ended or is ending; the loop has not seen the exit */
    uv_timer_t *exit_timer;     /* how long to wait for that exit; closed async */
    char *exit_reason;          /* the refusal that made hermod wait */

    /* memory (sched_mem.c) */
    struct list lq_link;          /* in s->loadq while waiting to load */
    bool in_loadq;
    bool resident_wanted;         /* pinned: load with or without waiters */
    int pool;                     /* where it is placed while running */
    uint64_t declared;            /* config memory, 0 = none */
    uint64_t estimate;            /* from the model file / catalog, 0 = none */
    uint64_t reported;            /* what the engine's load log reported */
    uint64_t measured;            /* current real use while running */
    uint64_t measured_peak;       /* the largest seen, kept across runs */
    uint64_t charge;              /* what it holds in its pool now */
    uint64_t load_queued_ms;
    uint64_t turn_start_ms;       /* when it last became ready (monotonic) */
    bool estimating;              /* a sizing job runs on the worker pool */
    bool estimate_tried;          /* sized once on demand for this load */
    char estimate_from[160];      /* where the estimate comes from */
    struct engine_report report;  /* what the engine printed while loading */
    /* An unmanaged Ollama: a request went to it after the /api/ps answer
     * numbered ps_mark, so until a newer one it may be loading the model
     * and is charged its file size. */
    bool ps_stale;
    uint64_t ps_mark;
};

struct sched_model {
    struct sched *s;
    const struct config_model *cfg;
    struct sched_engine *engines;
    size_t n;
    bool retired;                 /* a reload removed or changed it */
    unsigned slots;               /* tickets holding a slot */
    struct list slot_waiters;
    unsigned nwaiting;
};

struct sched {
    uv_loop_t *loop;
    struct upstream *up;
    const struct config *cfg;
    /* Every model the scheduler has run since it started: the live ones and
     * those a config reload retired, whose engines may still be finishing
     * requests and still hold memory. Each is allocated on its own, so
     * tickets and requests can hold one across a reload. */
    struct sched_model **models;
    size_t nmodels, models_cap;
    /* The live models, in the order of cfg->models (live[i] is
     * cfg->models[i]): what requests can reach. */
    struct sched_model **live;
    size_t nlive;
    bool shutting_down;
    struct prom_family *m_cold_start; /* model: managed engines' start to ready */
    void (*shutdown_done)(void *);
    void *shutdown_arg;

    /* memory (sched_mem.c) */
    struct budget_pool pools[BUDGET_MAX_POOLS];
    char pool_names[BUDGET_MAX_POOLS][24];
    uint64_t pool_total[BUDGET_MAX_POOLS];
    uint64_t pool_reserved[BUDGET_MAX_POOLS];
    size_t npools;
    bool unified;
    bool have_gpu;
    double load_factor;
    struct list loadq;            /* engines waiting to load, FIFO */
    struct list size_jobs;        /* sizing jobs on the worker pool */
    bool admitting, admit_again;
    uv_timer_t *quantum_timer;    /* the timers are closed async, */
    uv_timer_t *measure_timer;    /* so they live outside the struct */
    uv_timer_t *retry_timer;      /* pinned engines after a failure */
};

enum ticket_state { T_NEW, T_SLOT_WAIT, T_ENGINE_WAIT, T_GRANTED, T_DONE };

struct sched_ticket {
    struct list link;
    struct sched_model *m;
    sched_grant_cb *cb;
    void *arg;
    enum ticket_state state;
    bool has_slot;
    bool nospc;                   /* some engine can never fit */
    uint32_t tried;
    unsigned attempts;
    struct sched_engine *se;      /* waited for, or granted */
    struct buf reasons;
    uint64_t wait_since_ms;
};

/* sched.c */
void sched__pick(struct sched_ticket *t);
void sched__add_reason(struct sched_ticket *t, struct sched_engine *se, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every waiter of se picks again, se marked tried with `reason` when
 * reason is non-NULL (the engine cannot serve them). */
void sched__repick_waiters(struct sched_engine *se, const char *reason, bool nospc);
void sched__set_cooldown(struct sched_engine *se, const char *reason);

/* sched_mem.c */
void sched__mem_init(struct sched *s);
void sched__mem_release(struct sched *s);
/* se must load: queue it (once) and run admission. */
void sched__request_load(struct sched_engine *se);
/* An unmanaged Ollama whose use hermod sees (/api/ps) and can end
 * (keep_alive 0): it is admitted and evicted like a managed engine. */
bool sched__unloadable(const struct sched_engine *se);
/* Something changed (an exit, a ready engine, an idle engine, a waiter
 * gone): let waiting loads move. Safe to call from anywhere, re-entrant. */
void sched__admit(struct sched *s);
/* The charge se holds in its pool given its state. */
void sched__recharge(struct sched_engine *se);
/* Steady size of se: declared, else measured before, else estimate. */
uint64_t sched__steady(const struct sched_engine *se);
/* Removes se from the load queue (its waiters left or it started). */
void sched__unqueue(struct sched_engine *se);
void sched__on_output(struct sched_engine *se, const char *lines);

#endif
