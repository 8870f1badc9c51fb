/* SPDX-License-Identifier: MIT */
/*
 * sched: which engine serves a request, and when engines start and stop.
 *
 * The scheduler owns every model's engines and decides everything about
 * them: it starts an engine on the first request that needs it (all
 * requests waiting for that start are served by one start), stops it after
 * its model's ttl of idleness or on unload, skips an engine that failed
 * for a cooldown period, and limits each model's requests in flight,
 * queueing the rest up to a bound.
 *
 * A request holds a ticket. sched_acquire() asks for an engine of the
 * ticket's model that the ticket has not tried yet; the answer comes
 * through the ticket's callback, possibly before sched_acquire() returns.
 * After a failure the caller marks the engine (sched_engine_failed) and
 * asks again: that is the fallback from one engine to the next. When the
 * request is over, sched_ticket_free() gives everything back.
 *
 * DESIGN
 * All state lives on the loop thread. A ticket is in at most one wait list
 * at a time (model slots, or one engine's start), and freeing it removes it
 * from there, so a client that goes away while waiting costs nothing.
 */
#ifndef HERMOD_SCHED_H
#define HERMOD_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "lib/buf.h"
#include "model/engine.h"

struct sched;
struct sched_model;
struct sched_ticket;
struct upstream;
struct budget;

/*
 * The answer to sched_acquire():
 *   rc == 0:        use engine e (ready); the ticket holds it.
 *   rc == -EBUSY:   the model's queue is full (429; retry_after_s says when).
 *   rc == -ENODEV:  no engine of the model can serve (503); msg says why,
 *                   engine by engine.
 *   rc == -ENOSPC:  the model can never fit the memory budget (503).
 */
typedef void sched_grant_cb(struct sched_ticket *t, struct engine *e, int rc, const char *msg,
                            void *arg);

/* cfg is borrowed and must outlive the scheduler. */
struct sched *sched_new(uv_loop_t *loop, struct upstream *up, const struct config *cfg);
void sched_free(struct sched *s);
/* Starts health checks of unmanaged engines and pinned models. */
void sched_start(struct sched *s);
/* Stops every engine; done(arg) once all managed ones have exited. */
void sched_shutdown(struct sched *s, void (*done)(void *arg), void *arg);
/* SIGKILL to every engine still running. */
void sched_kill_all(struct sched *s);

/*
 * Applies a new config (SIGHUP). A model whose definition is unchanged
 * keeps its engines, running or not; a changed or removed model is retired:
 * it takes no new requests, requests in flight (and their tickets) finish
 * on its engines, which then stop; added and changed models get new
 * engines. cfg is borrowed: it, and every config given before, must
 * outlive the scheduler, since retired models and tickets keep pointers
 * into theirs. Memory pools (budget, reserved) stay as they were at start.
 * report gets one line: "+added ~changed -removed (counts)". Returns 0.
 */
int sched_reload(struct sched *s, const struct config *cfg, struct buf *report);

/* A live model by name or alias (retired ones are not found). */
struct sched_model *sched_find_model(struct sched *s, const char *name_or_alias);
/* The live models, in the config's order. */
size_t sched_model_count(const struct sched *s);
struct sched_model *sched_model_at(struct sched *s, size_t i);
const struct config_model *sched_model_config(const struct sched_model *m);
/* "ready", "starting", "stopped" or "unavailable"; why gets the reasons
 * when unavailable (may be NULL). */
const char *sched_model_state(struct sched_model *m, struct buf *why);
size_t sched_model_engine_count(const struct sched_model *m);
struct engine *sched_model_engine(const struct sched_model *m, size_t i);

struct sched_engine_info {
    unsigned in_flight;
    uint64_t cooldown_left_ms;
    const char *cooldown_reason;
    uint64_t last_used_wall_ms;  /* 0 = never */
    uint64_t requests;           /* served since hermod started */
    uint64_t failures;           /* failed starts, failed requests and crashes */
    unsigned crashes;            /* exits on its own once ready */
    /* memory, bytes (0 = unknown) */
    uint64_t declared;           /* config `memory` */
    uint64_t estimate;           /* from the model file or catalog */
    const char *estimate_from;   /* how it was estimated, or NULL */
    uint64_t reported;           /* from the engine's own load report */
    uint64_t measured;           /* real use now (RSS, or GPU memory) */
    uint64_t measured_peak;      /* largest real use seen while running */
    uint64_t steady;             /* what the scheduler counts when running */
    uint64_t charge;             /* what it holds in its pool now */
    int pool;                    /* index of its pool, -1 when not placed */
    bool queued_for_load;        /* waiting for memory */
    bool draining;               /* takes no new requests until stopped */
};
void sched_engine_info(const struct sched_model *m, size_t i, struct sched_engine_info *out);
/* Queued requests of a model, and requests in flight. */
unsigned sched_model_waiting(const struct sched_model *m);
unsigned sched_model_in_flight(const struct sched_model *m);

struct sched_ticket *sched_ticket_new(struct sched_model *m, sched_grant_cb *cb, void *arg);
/* Releases the engine and model slot the ticket holds, and leaves any wait
 * list. NULL is a no-op. No callback follows. */
void sched_ticket_free(struct sched_ticket *t);
void sched_acquire(struct sched_ticket *t);
/* The engine the ticket was granted failed it before answering: give it
 * back, mark it tried, and with cooldown, skip it for other requests too. */
void sched_engine_failed(struct sched_ticket *t, const char *reason, bool cooldown);
/*
 * The engine's port refused the connection, or the engine closed it before
 * any answer. A managed engine hermod holds ready does that only while its
 * process ends (it crashed, or is dying):
 * the ticket waits for the exit (at most SCHED_EXIT_WAIT_MS), and the next
 * pick starts the engine again, as a request after the exit would; if the
 * exit was already handled while the connection was being opened, the
 * next pick restarts it at once. An unmanaged engine, or an exit that does
 * not come, is a failure as sched_engine_failed(t, reason, true). Call
 * acquire again after it.
 */
void sched_engine_refused(struct sched_ticket *t, const char *reason);
#define SCHED_EXIT_WAIT_MS 2000
/* What the ticket is waiting for, for people ("starting x (pid 12) 4 s"). */
void sched_ticket_status(const struct sched_ticket *t, struct buf *out);
/* How many engines the ticket has been granted (1 + fallbacks). */
unsigned sched_ticket_attempts(const struct sched_ticket *t);

struct sched_pool_info {
    const char *name;            /* "system", "gpu0", ... */
    uint64_t total, reserved, capacity, used;
    bool unified;
    double load_factor;
};
/* The memory pools and what engines hold in each. Returns the count. */
size_t sched_pools(const struct sched *s, struct sched_pool_info *out, size_t max);

/* Appends the scheduler's metrics in the Prometheus text format: cold
 * starts (a histogram), engines (up, in flight, requests, failures,
 * memory), models (waiting, in flight) and the memory budget by pool
 * (sched_metrics.c). */
void sched_metrics(struct sched *s, struct buf *out);

/* Stops the engines of a model (NULL: all) once their requests finish.
 * Returns how many engines are stopping. */
unsigned sched_unload(struct sched *s, struct sched_model *m);

#endif
